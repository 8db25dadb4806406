# The audit settings are imported by the id of the provider credential's workspace
# (`workspace_id` in `GET /v1/auth/verify`).
terraform import statuspulse_audit_settings.this ws_01J8Z3K4M5N6P7Q8R9S0T1V2W3
