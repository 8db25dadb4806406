resource "statuspulse_service_account" "ingest" {
  name = "metrics-ingest"
}

resource "statuspulse_role_binding" "ingest" {
  service_account_id = statuspulse_service_account.ingest.id
  scopes             = ["read:checks"]
}

resource "statuspulse_api_key" "ingest" {
  name               = "metrics-ingest"
  environment        = "live"
  service_account_id = statuspulse_service_account.ingest.id
  scopes             = ["read:checks"]

  depends_on = [statuspulse_role_binding.ingest]
}

# Every usable key of the account, managed here or not: a key that is listed but not in any
# configuration (a rotation's successor made outside Terraform, a key created by hand) shows up.
data "statuspulse_api_keys" "ingest" {
  service_account_id = statuspulse_service_account.ingest.id
  status             = "active"

  depends_on = [statuspulse_api_key.ingest]
}

# Keys anywhere in the workspace whose rotation is due: feed them to an alert or a review.
data "statuspulse_api_keys" "due" {
  rotation_due = true
}

output "unmanaged_ingest_keys" {
  value = setsubtract(data.statuspulse_api_keys.ingest.ids, [statuspulse_api_key.ingest.id])
}

output "keys_due_for_rotation" {
  value = [for k in data.statuspulse_api_keys.due.keys : "${k.name} (${k.key_id})"]
}
