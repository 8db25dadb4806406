# Terraform 1.5 and later: an `import` block, planned and applied like any other change (by the
# id of the provider credential's workspace). Remove it once the import is applied.
import {
  to = statuspulse_audit_settings.this
  id = "ws_01J8Z3K4M5N6P7Q8R9S0T1V2W3"
}
