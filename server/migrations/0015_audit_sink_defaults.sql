-- The sink defaults in a workspace's audit settings (`/v1/audit-settings`, audit/settings.rs):
-- the `event_types` a sink created without its own forwards, as a JSON list; NULL means the
-- default, every event (`["*"]`).
ALTER TABLE audit_settings ADD COLUMN default_event_types TEXT;
