# Keep the workspace's audit events for 400 days (30 to 3650; 365 without this resource), and
# have every sink created without its own filter forward sign-ins, tokens and key revocations.
# Recording is always on: destroying this resource puts the defaults back.
resource "statuspulse_audit_settings" "this" {
  retention_days      = 400
  default_event_types = ["auth.*", "token.*", "api_key.revoked"]
}

# No event_types: this sink takes the workspace's default_event_types when it is created.
resource "statuspulse_audit_sink" "siem" {
  name = "siem-defaults"

  webhook {
    url = "https://siem.example.com/statuspulse"
  }

  depends_on = [statuspulse_audit_settings.this]
}
