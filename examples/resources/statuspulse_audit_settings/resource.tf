# Keep the workspace's audit events for 400 days (30 to 3650; 365 without this resource).
# Recording is always on: destroying this resource puts the 365-day default back.
resource "statuspulse_audit_settings" "this" {
  retention_days = 400
}
