# Access policies are imported by id, or by name as `name:<name>`.
terraform import statuspulse_access_policy.alerts_need_mfa_on_corp ap_01J8Z3K4M5N6P7Q8R9S0T1V2W3
terraform import statuspulse_access_policy.oncall_cli_in_the_eu name:oncall-cli-eu
