resource "statuspulse_environment_cluster" "eu_prod" {
  name        = "eu-prod-1"
  environment = "live"
}

resource "statuspulse_service_account" "alerting" {
  name = "alert-router"
}

resource "statuspulse_role_binding" "alerting" {
  service_account_id   = statuspulse_service_account.alerting.id
  scopes               = ["read:checks", "write:alerts"]
  environment_clusters = [statuspulse_environment_cluster.eu_prod.name]
}

resource "statuspulse_api_key" "alerting" {
  name               = "alert-router"
  environment        = "live"
  service_account_id = statuspulse_service_account.alerting.id
  scopes             = ["read:checks", "write:alerts"]

  depends_on = [statuspulse_role_binding.alerting]
}

# What the key can actually reach after its bindings: effective scopes, scopes withheld by the
# bindings, and the clusters each scope applies in. Use `service_account_id` to ask about an
# account's bindings instead of one key.
data "statuspulse_effective_access" "alerting" {
  api_key_id = statuspulse_api_key.alerting.id
}

output "alerting_scopes" {
  value = data.statuspulse_effective_access.alerting.scopes
}

output "alerting_clusters" {
  value = [for c in data.statuspulse_effective_access.alerting.environment_clusters : c.name]
}

# What the on-call group's members would get from StatusPulse's OAuth server signing in with a
# hardware key from the office, after their bindings and any `statuspulse_access_policy`;
# `withheld_oauth_scopes` names the policy and the unmet condition for each scope held back.
# (`user_id = "usr_…"` asks about one person, with their groups as their sessions see them.)
data "statuspulse_effective_access" "on_call_at_the_office" {
  group = "on-call"
  mfa   = true
  amr   = ["hwk"]
  ip    = "10.20.30.40"
}

output "on_call_oauth_scopes" {
  value = data.statuspulse_effective_access.on_call_at_the_office.oauth_scopes
}
