# Environment clusters are imported by id, or by name as `name:<name>` (names are unique in a
# workspace).
terraform import statuspulse_environment_cluster.eu_prod ec_01J8Z3K4M5N6P7Q8R9S0T1V2W3
terraform import statuspulse_environment_cluster.eu_prod name:eu-prod-1
