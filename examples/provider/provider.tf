terraform {
  required_providers {
    statuspulse = {
      source = "statuspulse/statuspulse"
    }
  }
}

# Every setting falls back to the environment, which is where a pipeline should keep them:
#   STATUSPULSE_ENDPOINT=https://auth.statuspulse.example
#   STATUSPULSE_API_KEY=sp_live_...  (a key with the admin:service_accounts, admin:keys and admin:access scopes)
# or, without any stored key, an OIDC token of the CI platform exchanged under a
# statuspulse_workload_identity trust policy:
#   STATUSPULSE_OIDC_TOKEN_FILE=/var/run/secrets/statuspulse/token  (or STATUSPULSE_OIDC_TOKEN)
#   STATUSPULSE_WORKLOAD_IDENTITY=wi_...  (only when several trust policies match the token)
# A GitHub Actions job with `permissions: id-token: write` needs none of these.
provider "statuspulse" {
  # endpoint        = "https://auth.statuspulse.example"
  # api_key         = var.statuspulse_api_key
  # oidc_token_file = "/var/run/secrets/statuspulse/token"
}
