resource "statuspulse_environment_cluster" "eu_prod" {
  name        = "eu-prod-1"
  environment = "live"
}

resource "statuspulse_service_account" "alerting" {
  name = "alert-router"
}

# The alert router may read checks and route alerts, and only in eu-prod-1.
resource "statuspulse_role_binding" "alerting" {
  service_account_id   = statuspulse_service_account.alerting.id
  scopes               = ["read:checks", "write:alerts"]
  environment_clusters = [statuspulse_environment_cluster.eu_prod.name]
}
