resource "statuspulse_service_account" "monitoring" {
  name = "monitoring-dashboards"
}

# Look a service account up by id (or by exact name with `name = "..."`).
data "statuspulse_service_account" "monitoring" {
  id = statuspulse_service_account.monitoring.id
}

output "monitoring_created_at" {
  value = data.statuspulse_service_account.monitoring.created_at
}
