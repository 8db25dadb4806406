# Anomaly rules are imported by id, or by name as `name:<name>`. Every workspace already has one
# rule of each kind (`default-rapid-rotation`, `default-cross-region-token-exchange`,
# `default-failed-auth-burst`, `default-revoked-key-use`, `default-new-network`): import those by
# name to tune or disable them.
terraform import statuspulse_anomaly_rule.ci_rotation anr_01J8Z3K4M5N6P7Q8R9S0T1V2W3
terraform import statuspulse_anomaly_rule.ci_rotation name:ci-rotation-strict
