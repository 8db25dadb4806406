resource "statuspulse_oauth_client" "oncall_cli" {
  name           = "oncall-cli"
  public         = true
  redirect_uris  = ["http://127.0.0.1:8400/callback"]
  allowed_scopes = ["openid", "statuspulse:checks:read", "statuspulse:alerts:manage"]
}

# Managing alerts takes a second factor, from the corporate network. Every other scope is
# issued as role bindings and the client allow.
resource "statuspulse_access_policy" "alerts_need_mfa_on_corp" {
  name        = "alerts:manage needs MFA on the corporate network"
  description = "Silencing and rerouting alerts is what an attacker would do first."
  scopes      = ["statuspulse:alerts:manage"]
  require_mfa = true
  networks    = ["10.0.0.0/8", "192.0.2.0/24"]
}

# The on-call CLI reads checks for the on-call group only, and only from the EU. A scope several
# policies govern needs all of them: alerts:manage through this CLI needs both policies.
resource "statuspulse_access_policy" "oncall_cli_in_the_eu" {
  name       = "oncall-cli-eu"
  scopes     = ["statuspulse:checks:read", "statuspulse:alerts:manage"]
  groups     = ["on-call"]
  client_ids = [statuspulse_oauth_client.oncall_cli.client_id]
  regions    = ["eu-west-1", "eu-central-1"]
}
