# Terraform 1.5 and later: an `import` block, planned and applied like any other change
# (by name, as `name:<name>`; `name:default-failed-auth-burst` takes over a workspace's default
# rule). Remove it once the import is applied.
import {
  to = statuspulse_anomaly_rule.ci_rotation
  id = "name:ci-rotation-strict"
}
