# CI service accounts rotate their keys from a pipeline, never by hand: two rotations within
# half an hour already mean someone is scripting against the API. The workspace's
# `default-rapid-rotation` rule (3 in 60 minutes) stays on beside this one.
resource "statuspulse_anomaly_rule" "ci_rotation" {
  name           = "ci-rotation-strict"
  kind           = "rapid_rotation"
  threshold      = 2
  window_minutes = 30
}

# Keys of long-running services live at fixed addresses: a new network after a week of history
# is worth a look.
resource "statuspulse_anomaly_rule" "services_new_network" {
  name              = "services-new-network"
  kind              = "new_network"
  min_key_age_hours = 168
}
