# "Download OIDC Metadata": the issuer and endpoints applications sign people in with.
data "statuspulse_oidc_metadata" "this" {}

output "issuer" {
  value = data.statuspulse_oidc_metadata.this.issuer
}

output "token_endpoint" {
  value = data.statuspulse_oidc_metadata.this.token_endpoint
}

# The whole document as served, for tools that import an OIDC metadata file.
output "openid_configuration" {
  value = data.statuspulse_oidc_metadata.this.document
}
