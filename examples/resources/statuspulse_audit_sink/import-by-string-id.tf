# Terraform 1.5 and later: an `import` block, planned and applied like any other change
# (by name, as `name:<name>`). Remove it once the import is applied.
import {
  to = statuspulse_audit_sink.cloudwatch
  id = "name:cloudwatch-audit"
}
