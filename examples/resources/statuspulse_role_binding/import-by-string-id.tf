# Terraform 1.5 and later: an `import` block, planned and applied like any other change
# (by id). Remove it once the import is applied.
import {
  to = statuspulse_role_binding.alerting
  id = "rb_01J8Z3K4M5N6P7Q8R9S0T1V2W3"
}
