resource "statuspulse_environment_cluster" "eu_prod" {
  name        = "eu-prod-1"
  environment = "live"
  description = "Production checks run from Frankfurt"
}
