# API keys are imported by id. The secret is shown only once, at creation, so after an import
# `key` is null: rotate the key (change a keeper) if you need a secret in state.
terraform import statuspulse_api_key.ci key_01J8Z3K4M5N6P7Q8R9S0T1V2W3
