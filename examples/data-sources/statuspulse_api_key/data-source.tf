resource "statuspulse_api_key" "dashboards" {
  name        = "read-only-dashboards"
  environment = "test"
  scopes      = ["read:checks", "read:metrics"]
}

# Reads a key's metadata (never its secret), e.g. to alert before it is due for rotation.
data "statuspulse_api_key" "dashboards" {
  id = statuspulse_api_key.dashboards.id
}

output "dashboards_rotate_after" {
  value = data.statuspulse_api_key.dashboards.rotate_after
}
