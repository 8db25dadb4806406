data "statuspulse_scopes" "resource" {
  kind = "resource"
}

output "resource_scopes" {
  value = data.statuspulse_scopes.resource.names
}
