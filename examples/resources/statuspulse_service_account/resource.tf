resource "statuspulse_service_account" "ci" {
  name        = "ci-deployer"
  description = "Deploys uptime checks from the main branch pipeline"
}
