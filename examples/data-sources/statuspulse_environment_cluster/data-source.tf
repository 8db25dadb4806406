resource "statuspulse_environment_cluster" "eu_prod" {
  name        = "eu-prod-1"
  environment = "live"
}

# Look a cluster up by name (or by id with `id = "ec_..."`), e.g. one another team manages.
data "statuspulse_environment_cluster" "eu_prod" {
  name = statuspulse_environment_cluster.eu_prod.name
}

output "eu_prod_environment" {
  value = data.statuspulse_environment_cluster.eu_prod.environment
}
