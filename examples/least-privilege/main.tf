# A least-privilege automation runner: never `admin:all` for automation.
#
# How StatusPulse decides what a key may do:
#   - an environment cluster (`eu-prod-1`) is a named slice of one environment (`live`);
#   - a role binding grants a service account some scopes, optionally only in some clusters;
#   - a service account's key may hold only scopes its bindings grant in the key's environment
#     (the server refuses more with `scopes_exceed_bindings`), and can be narrowed to clusters;
#   - at verification what counts is the key's effective scopes in the asked cluster, so
#     narrowing or deleting a binding narrows every existing key at once.
# The runner below may read checks and write alerts in eu-prod-1, and nothing else, anywhere.
terraform {
  required_providers {
    statuspulse = {
      source = "statuspulse/statuspulse"
    }
  }
}

# STATUSPULSE_ENDPOINT and STATUSPULSE_API_KEY (a key with admin:service_accounts, admin:keys
# and admin:access) tell the provider where the server is and how to manage it.
provider "statuspulse" {}

resource "statuspulse_environment_cluster" "eu_prod" {
  name        = "eu-prod-1"
  environment = "live"
  description = "Production checks run from Frankfurt"
}

# The runner's own identity: its keys act as this service account.
resource "statuspulse_service_account" "runner" {
  name        = "automation-runner"
  description = "Runs the alerting automation in eu-prod-1"
}

# The only grant the runner has: read checks and write alerts, confined to eu-prod-1.
resource "statuspulse_role_binding" "runner" {
  service_account_id   = statuspulse_service_account.runner.id
  scopes               = ["read:checks", "write:alerts"]
  environment_clusters = [statuspulse_environment_cluster.eu_prod.name]
}

# The runner's key: the same scopes (no more would be accepted), confined to the same cluster,
# and replaced before the old one is revoked when it is due for rotation.
resource "statuspulse_api_key" "runner" {
  name                 = "automation-runner"
  environment          = "live"
  service_account_id   = statuspulse_service_account.runner.id
  scopes               = ["read:checks", "write:alerts"]
  environment_clusters = [statuspulse_environment_cluster.eu_prod.name]

  lifecycle {
    create_before_destroy = true
  }

  # The key needs the binding to exist first, and must be revoked before the binding goes.
  depends_on = [statuspulse_role_binding.runner]
}

# What the key can actually reach, as the server decides it at verification.
data "statuspulse_effective_access" "runner" {
  api_key_id = statuspulse_api_key.runner.id
}

output "effective_scopes" {
  value = data.statuspulse_effective_access.runner.scopes
}

output "withheld_scopes" {
  value = data.statuspulse_effective_access.runner.withheld_scopes
}

output "environment_clusters" {
  value = data.statuspulse_effective_access.runner.environment_clusters
}

output "api_key_id" {
  value = statuspulse_api_key.runner.id
}

# Hand the secret to the runner's vault, never to a log: only the creating run knows it.
output "api_key" {
  value     = statuspulse_api_key.runner.key
  sensitive = true
}
