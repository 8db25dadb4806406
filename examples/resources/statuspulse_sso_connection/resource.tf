# The IdP's client secret, from the environment (TF_VAR_okta_client_secret) or a secret store;
# never a literal in the configuration.
variable "okta_client_secret" {
  type      = string
  sensitive = true
}

# Okta, custom authorization server, MFA required. On Terraform 1.11 and later prefer
# client_secret_wo (write-only, never in state): see the second example below.
resource "statuspulse_sso_connection" "okta" {
  name = "Corporate Okta"
  kind = "okta"

  okta {
    domain                  = "example.okta.com"
    authorization_server_id = "default"
  }

  client_id     = "0oa1b2c3d4e5f6g7h8i9"
  client_secret = var.okta_client_secret

  email_domains  = ["example.com"]
  require_mfa    = true
  allowed_groups = ["StatusPulse Users", "StatusPulse Admins"]
  group_mappings = {
    "StatusPulse Admins" = "sre"
  }
}

# What the mapped group may do: role bindings take SSO groups as principals.
resource "statuspulse_role_binding" "sre" {
  group  = statuspulse_sso_connection.okta.group_mappings["StatusPulse Admins"]
  scopes = ["read:checks", "write:alerts"]
}

# A legacy directory over SAML 2.0: register sp_entity_id and acs_url at the IdP.
resource "statuspulse_sso_connection" "legacy" {
  name = "legacy-adfs"
  kind = "saml"

  saml {
    idp_entity_id    = "http://adfs.example.org/adfs/services/trust"
    idp_sso_url      = "https://adfs.example.org/adfs/ls/"
    groups_attribute = "http://schemas.xmlsoap.org/claims/Group"
    idp_certificate  = <<-PEM
      -----BEGIN CERTIFICATE-----
      MIIBiDCCAS+gAwIBAgIUVvWLuDGaj6njTy0ZKjGNdBD27dMwCgYIKoZIzj0EAwIw
      GjEYMBYGA1UEAwwPaWRwLmV4YW1wbGUuY29tMB4XDTI2MTEyOTIyMTkyM1oXDTM2
      MTEyNjIyMTkyM1owGjEYMBYGA1UEAwwPaWRwLmV4YW1wbGUuY29tMFkwEwYHKoZI
      zj0CAQYIKoZIzj0DAQcDQgAEi75AcJtZIY6hn+Jowf/+2k6r/5u2QtuDDV2QXmCq
      hbdFqPbKej5h2YWooBjiN80KXu6NOcgGEc1Byn2NnXni9KNTMFEwHQYDVR0OBBYE
      FOfIpZnEPU2C+LzSJRsBQKa/hiimMB8GA1UdIwQYMBaAFOfIpZnEPU2C+LzSJRsB
      QKa/hiimMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgfkxo7m4v
      ztfwBkNxod8Y6MbKj7/7YciDeWf7VKlKp/sCIHp3qabdhKVksZbjgACIVooqm/+K
      mAid9EdNwTAOhpr8
      -----END CERTIFICATE-----
    PEM
  }

  email_domains = ["example.org"]
}

output "saml_acs_url" {
  value = statuspulse_sso_connection.legacy.acs_url
}
