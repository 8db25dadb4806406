variable "pipeline_key" {
  description = "A StatusPulse API key handed to this configuration, e.g. from a vault."
  type        = string
  sensitive   = true
  default     = null
}

resource "statuspulse_api_key" "sandbox" {
  name        = "sandbox-runner"
  environment = "test"
  scopes      = ["read:checks"]
}

locals {
  # A key from outside (or, here, the one created above when none is given).
  pipeline_key = coalesce(var.pipeline_key, statuspulse_api_key.sandbox.key)
}

# Offline and checksum-verified: "live" for sp_live_ keys, "test" for sp_test_ keys.
output "pipeline_key_environment" {
  value = nonsensitive(provider::statuspulse::key_environment(local.pipeline_key))
}
