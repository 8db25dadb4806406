resource "statuspulse_service_account" "ci" {
  name = "ci-deployer"
}

# Least privilege is enforced: a service account's keys hold only what its bindings grant.
resource "statuspulse_role_binding" "ci" {
  service_account_id = statuspulse_service_account.ci.id
  scopes             = ["read:checks", "write:alerts"]
}

# A least-privilege key for a pipeline, rotated every 90 days by replacement.
resource "statuspulse_api_key" "ci" {
  name               = "ci-deployer"
  environment        = "live"
  service_account_id = statuspulse_service_account.ci.id
  scopes             = ["read:checks", "write:alerts"]
  rotation_days      = 90
  expires_in_days    = 180 # stops working after 180 days even if never rotated

  # Change a keeper to rotate the key on demand.
  keepers = {
    rotation = "2025-q1"
  }

  # The successor exists before the old key is revoked, so the pipeline never holds a refused key.
  lifecycle {
    create_before_destroy = true
  }

  depends_on = [statuspulse_role_binding.ci]
}

# Hand the secret to a vault, never to a log: it is only known to the run that created the key.
output "ci_api_key" {
  value     = statuspulse_api_key.ci.key
  sensitive = true
}
