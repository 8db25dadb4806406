# Terraform 1.11 and later: the AWS secret access key and a webhook secret you choose are
# write-only, in neither the plan nor the state. The role is assumed through STS with the key
# before each write.
variable "aws_secret_access_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

# `whsec_` and the base64 of 24 to 64 random bytes, shared with the receiver (from a vault).
variable "webhook_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "statuspulse_audit_sink" "webhook" {
  name        = "siem-write-only"
  event_types = ["auth.*", "anomaly.*"]

  webhook {
    url       = "https://siem.example.com/statuspulse"
    secret_wo = var.webhook_secret
    # Change the version to rotate: the old secret keeps signing beside the new one for 24 h.
    secret_wo_version = 1
  }
}

resource "statuspulse_audit_sink" "cloudwatch" {
  name        = "cloudwatch-security"
  event_types = ["auth.*", "token.*", "api_key.revoked"]

  cloudwatch {
    region               = "us-east-1"
    log_group            = "/statuspulse/security"
    log_stream           = "events"
    access_key_id        = "AKIAIOSFODNN7EXAMPLE"
    secret_access_key_wo = var.aws_secret_access_key
    # Terraform cannot compare write-only values: change the version to send a new key.
    secret_access_key_wo_version = 1
    role_arn                     = "arn:aws:iam::123456789012:role/statuspulse-audit-writer"
    external_id                  = "statuspulse-ws-acme"
  }
}
