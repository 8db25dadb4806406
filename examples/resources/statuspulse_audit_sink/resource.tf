# Every audit event to the SIEM's webhook. No secret given: the server generates one, shown only
# in the create answer, which the state keeps (sensitive) for the receiver's configuration.
resource "statuspulse_audit_sink" "siem" {
  name = "siem"

  webhook {
    url = "https://siem.example.com/statuspulse"
  }
}

# Hand the signing secret to the receiver (`terraform output -raw siem_webhook_secret`), or
# write it to a secret store with another provider.
output "siem_webhook_secret" {
  value     = statuspulse_audit_sink.siem.webhook[0].secret
  sensitive = true
}

# Only credential and sign-in events, signed with a secret of our own (TF_VAR_soc_webhook_secret,
# `whsec_` and base64 of 24 to 64 random bytes). Changing it rotates the secret: for 24 hours
# deliveries carry both signatures.
variable "soc_webhook_secret" {
  type      = string
  sensitive = true
}

resource "statuspulse_audit_sink" "soc" {
  name        = "soc-credential-events"
  event_types = ["api_key.*", "auth.*", "token.*", "sso.*", "session.*"]

  webhook {
    url    = "https://soc.example.com/hooks/statuspulse"
    secret = var.soc_webhook_secret
  }
}

# CloudWatch Logs with an access key of an IAM user that may only write to this log group.
# On Terraform 1.11 and later prefer secret_access_key_wo (write-only, never in state): see
# examples/write-only/statuspulse_audit_sink.
variable "aws_secret_access_key" {
  type      = string
  sensitive = true
}

resource "statuspulse_audit_sink" "cloudwatch" {
  name = "cloudwatch-audit"

  cloudwatch {
    region            = "eu-west-1"
    log_group         = "/statuspulse/audit"
    log_stream        = "workspace-events"
    access_key_id     = "AKIAIOSFODNN7EXAMPLE"
    secret_access_key = var.aws_secret_access_key
  }
}
