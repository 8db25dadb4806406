# Terraform 1.11 and later: the secret is write-only, in neither the plan nor the state.
variable "entra_client_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "statuspulse_sso_connection" "entra" {
  name = "Microsoft Entra ID"
  kind = "azure_ad"

  azure_ad {
    tenant_id       = "organizations"
    allowed_tenants = ["3f2504e0-4f89-11d3-9a0c-0305e82c3301"]
  }

  client_id        = "6731de76-14a6-49ae-97bc-6eba6914391e"
  client_secret_wo = var.entra_client_secret
  # Terraform cannot compare write-only values: change the version to send a new secret.
  client_secret_wo_version = 1

  email_domains = ["example.io"]
  require_mfa   = true
  acr_values    = ["urn:microsoft:req1"]
}
