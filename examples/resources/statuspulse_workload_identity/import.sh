# Workload identity trust policies are imported by id, or by name as `name:<name>`.
terraform import statuspulse_workload_identity.github wi_01J8Z3K4M5N6P7Q8R9S0T1V2W3
terraform import statuspulse_workload_identity.gitlab name:gitlab-acme-infra-protected
