# Terraform 1.5 and later: an `import` block, planned and applied like any other change
# (by name, as `name:<name>`). Remove it once the import is applied.
import {
  to = statuspulse_access_policy.oncall_cli_in_the_eu
  id = "name:oncall-cli-eu"
}
