# Service accounts are imported by id, or by name as `name:<name>` (names are unique in a
# workspace).
terraform import statuspulse_service_account.ci sa_01J8Z3K4M5N6P7Q8R9S0T1V2W3
terraform import statuspulse_service_account.ci name:ci-deployer
