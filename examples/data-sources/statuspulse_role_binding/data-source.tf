resource "statuspulse_environment_cluster" "eu_prod" {
  name        = "eu-prod-1"
  environment = "live"
}

resource "statuspulse_service_account" "alerting" {
  name = "alert-router"
}

resource "statuspulse_role_binding" "alerting" {
  service_account_id   = statuspulse_service_account.alerting.id
  scopes               = ["read:checks", "write:alerts"]
  environment_clusters = [statuspulse_environment_cluster.eu_prod.name]
}

# Reads what a binding grants, and where (an empty `environment_clusters` means every cluster).
data "statuspulse_role_binding" "alerting" {
  id = statuspulse_role_binding.alerting.id
}

output "alerting_grant" {
  value = {
    scopes   = data.statuspulse_role_binding.alerting.scopes
    clusters = data.statuspulse_role_binding.alerting.environment_clusters
  }
}
