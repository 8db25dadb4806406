# Role bindings are imported by id.
terraform import statuspulse_role_binding.alerting rb_01J8Z3K4M5N6P7Q8R9S0T1V2W3
