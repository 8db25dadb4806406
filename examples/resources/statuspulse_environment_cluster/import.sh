# Environment clusters are imported by id.
terraform import statuspulse_environment_cluster.eu_prod ec_01J8Z3K4M5N6P7Q8R9S0T1V2W3
