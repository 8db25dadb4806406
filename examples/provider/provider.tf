terraform {
  required_providers {
    statuspulse = {
      source = "statuspulse/statuspulse"
    }
  }
}

# Both settings fall back to the environment, which is where a pipeline should keep them:
#   STATUSPULSE_ENDPOINT=https://auth.statuspulse.example
#   STATUSPULSE_API_KEY=sp_live_...  (a key with the admin:service_accounts, admin:keys and admin:access scopes)
provider "statuspulse" {
  # endpoint = "https://auth.statuspulse.example"
  # api_key  = var.statuspulse_api_key
}
