# The key goes straight to AWS Secrets Manager and never into Terraform's state: `key` stays
# null, and the state keeps only the version of the secret that holds it. Consumers read the
# secret (its AWSCURRENT version) at start-up or when they are refused.
#
# Credentials and region come from the environment, as for the AWS provider:
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (or AWS_PROFILE in
# ~/.aws/credentials) and AWS_REGION. The principal needs secretsmanager:CreateSecret,
# secretsmanager:PutSecretValue and secretsmanager:DescribeSecret.
resource "statuspulse_api_key" "deployer" {
  name        = "deployer"
  environment = "test"
  scopes      = ["read:checks"]

  # Change it to rotate on demand; `rotation_days` rotates on schedule.
  keepers = {
    rotation = "2026-q4"
  }

  secret_store {
    aws_secrets_manager {
      secret_id = "statuspulse/deployer-api-key" # created if missing
    }
  }

  # The successor is written to the secret before the old key's grace period starts, so a
  # consumer that re-reads the secret within `revoke_grace_period_hours` is never refused.
  lifecycle {
    create_before_destroy = true
  }
}

output "deployer_key_secret_arn" {
  value = statuspulse_api_key.deployer.secret_store[0].aws_secrets_manager[0].arn
}
