resource "statuspulse_sso_connection" "auth0" {
  name = "Auth0"
  kind = "oidc"

  oidc {
    issuer = "https://example.eu.auth0.com/"
  }

  client_id     = "abc123"
  email_domains = ["example.net"]
}

# Look a connection up by name (or by id with `id = "sso_…"`); the secret is never readable,
# client_secret_set says whether one is stored.
data "statuspulse_sso_connection" "auth0" {
  name = statuspulse_sso_connection.auth0.name
}

output "auth0_scopes" {
  value = data.statuspulse_sso_connection.auth0.scopes
}
