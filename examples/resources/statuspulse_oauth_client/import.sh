# OAuth clients are imported by id (the client_id), or by name as `name:<name>`. A client secret
# is never readable again: an imported client has none in the state.
terraform import statuspulse_oauth_client.dashboard oc_01J8Z3K4M5N6P7Q8R9S0T1V2W3
terraform import statuspulse_oauth_client.cli name:statuspulse-cli
terraform import statuspulse_oauth_client.reports name:legacy-reports
