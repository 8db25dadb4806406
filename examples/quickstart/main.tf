# The quickstart of README.md: a service account for a CI pipeline and its least-privilege key.
# scripts/quickstart.sh runs it against a local server; STATUSPULSE_ENDPOINT and
# STATUSPULSE_API_KEY tell the provider where that server is and which admin key to use.
terraform {
  required_providers {
    statuspulse = {
      source = "statuspulse/statuspulse"
    }
  }
}

provider "statuspulse" {}

data "statuspulse_scopes" "catalog" {}

resource "statuspulse_service_account" "ci" {
  name        = "quickstart-ci"
  description = "CI pipeline created by the StatusPulse quickstart"
}

# The server enforces least privilege: the account's keys can hold only what it is bound to.
resource "statuspulse_role_binding" "ci" {
  service_account_id = statuspulse_service_account.ci.id
  scopes             = ["read:checks", "write:alerts"]
}

resource "statuspulse_api_key" "ci" {
  name               = "quickstart-ci"
  environment        = "live"
  service_account_id = statuspulse_service_account.ci.id
  scopes             = ["read:checks", "write:alerts"]

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [statuspulse_role_binding.ci]
}

output "service_account_id" {
  value = statuspulse_service_account.ci.id
}

output "api_key_id" {
  value = statuspulse_api_key.ci.id
}

output "api_key" {
  value     = statuspulse_api_key.ci.key
  sensitive = true
}

output "rotate_after" {
  value = statuspulse_api_key.ci.rotate_after
}

output "scopes_available" {
  value = data.statuspulse_scopes.catalog.names
}
