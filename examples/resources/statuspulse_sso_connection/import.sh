# SSO connections are imported by id, or by name as `name:<name>`. The client secret is never
# readable: keep it in the configuration, and the next apply sends it.
terraform import statuspulse_sso_connection.okta sso_01J8Z3K4M5N6P7Q8R9S0T1V2W3
terraform import statuspulse_sso_connection.legacy name:legacy-adfs
