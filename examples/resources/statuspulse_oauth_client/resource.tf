# A server-side web app: PKCE and a client secret, shown once by the server and kept (sensitive)
# in the state.
resource "statuspulse_oauth_client" "dashboard" {
  name           = "Status dashboard"
  redirect_uris  = ["https://status.example.com/oauth/callback"]
  allowed_scopes = ["openid", "email", "profile", "statuspulse:checks:read"]
}

# A command-line tool: PKCE only, redirected to a port on the loopback address (RFC 8252).
resource "statuspulse_oauth_client" "cli" {
  name           = "statuspulse-cli"
  public         = true
  redirect_uris  = ["http://127.0.0.1:8400/callback"]
  allowed_scopes = ["openid", "statuspulse:alerts:manage"]
}

# A reporting tool whose OpenID Connect library verifies RSA signatures only: its access and ID
# tokens are signed RS256 (the default is ES256).
resource "statuspulse_oauth_client" "reports" {
  name           = "legacy-reports"
  redirect_uris  = ["https://reports.example.com/oidc/callback"]
  allowed_scopes = ["openid", "email", "statuspulse:checks:read"]
  signing_alg    = "RS256"
}

output "dashboard_client_id" {
  value = statuspulse_oauth_client.dashboard.client_id
}

output "dashboard_client_secret" {
  value     = statuspulse_oauth_client.dashboard.client_secret
  sensitive = true
}
