# A key that exists only while Terraform runs (Terraform 1.10 or later): minted when the run
# needs it, revoked when the run ends, and never written to the plan or the state.
ephemeral "statuspulse_api_key" "smoke_test" {
  name        = "deploy-smoke-test"
  environment = "live"
  scopes      = ["read:checks"]
}

# Use it during the apply: in a provisioner, as here, or in a provider block or another ephemeral resource.
# Here a smoke test proves the gateway accepts it.
resource "terraform_data" "smoke_test" {
  provisioner "local-exec" {
    command = "curl --fail --silent --show-error --output /dev/null -H \"Authorization: Bearer $SMOKE_TEST_KEY\" \"$STATUSPULSE_ENDPOINT/v1/auth/verify\""
    environment = {
      SMOKE_TEST_KEY = ephemeral.statuspulse_api_key.smoke_test.key
    }
  }
}
