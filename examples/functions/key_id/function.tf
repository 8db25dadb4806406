resource "statuspulse_api_key" "deploy" {
  name        = "deploy"
  environment = "test"
  scopes      = ["read:checks"]
}

# The public key id inside a key, computed offline: the key's checksum is verified locally and
# the key is sent nowhere. Anything computed from the (sensitive) key is sensitive too; the id
# is safe to show.
output "deploy_key_id" {
  value = nonsensitive(provider::statuspulse::key_id(statuspulse_api_key.deploy.key))
}
