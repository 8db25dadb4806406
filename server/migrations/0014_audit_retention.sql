-- Audit retention (`/v1/audit-settings`, audit/retention.rs): events older than a workspace's
-- retention are pruned from the front of its chain, in segments. The chain head remembers where
-- the stored chain now starts (the last pruned position and its hash), so what remains still
-- verifies from that anchor, and removing more events than retention allows is detected.
CREATE TABLE audit_settings (
    workspace_id   TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    retention_days BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
ALTER TABLE audit_chain_heads ADD COLUMN pruned_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_chain_heads ADD COLUMN pruned_hash TEXT NOT NULL
    DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
