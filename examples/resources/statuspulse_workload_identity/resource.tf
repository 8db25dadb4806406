# The service account the Terraform pipelines act as, and what its role bindings let it do: an
# exchanged token never carries more than this, whatever a trust policy's `scopes` say.
resource "statuspulse_service_account" "terraform_ci" {
  name        = "terraform-ci"
  description = "Runs terraform apply for acme/infra; authenticates with workload identity, holds no key."
}

resource "statuspulse_role_binding" "terraform_ci" {
  service_account_id = statuspulse_service_account.terraform_ci.id
  scopes             = ["admin:service_accounts", "admin:keys", "admin:access"]
}

# GitHub Actions: only workflows of acme/infra running on main. The job asks GitHub for a token
# with the audience `statuspulse` (the provider does it on its own in a job with
# `permissions: id-token: write`).
resource "statuspulse_workload_identity" "github" {
  name     = "github-acme-infra-main"
  issuer   = "https://token.actions.githubusercontent.com"
  audience = "statuspulse"
  conditions = {
    repository = "acme/infra"
    ref        = "refs/heads/main"
  }
  service_account_id = statuspulse_role_binding.terraform_ci.service_account_id
  scopes             = ["admin:service_accounts", "admin:keys", "admin:access"]
}

# GitLab CI on gitlab.com: any protected branch or tag of acme/infra. The job declares
# `id_tokens` with `aud: https://auth.statuspulse.example`, one per Terraform command (a token
# is exchanged once; see the workload identity guide), passed as STATUSPULSE_OIDC_TOKEN.
resource "statuspulse_workload_identity" "gitlab" {
  name     = "gitlab-acme-infra-protected"
  issuer   = "https://gitlab.com"
  audience = "https://auth.statuspulse.example"
  conditions = {
    project_path  = "acme/infra"
    ref_protected = "true"
  }
  service_account_id     = statuspulse_role_binding.terraform_ci.service_account_id
  scopes                 = ["admin:service_accounts", "admin:keys"]
  token_lifetime_seconds = 1800
}

# Kubernetes: pods running as the `statuspulse-sync` service account of the `monitoring`
# namespace, with a service account token for the audience `statuspulse` read through
# `oidc_token_file`. The issuer is the cluster's service account issuer (here EKS).
resource "statuspulse_service_account" "status_sync" {
  name = "status-sync"
}

resource "statuspulse_role_binding" "status_sync" {
  service_account_id = statuspulse_service_account.status_sync.id
  scopes             = ["read:checks"]
}

resource "statuspulse_workload_identity" "kubernetes" {
  name     = "eks-monitoring-status-sync"
  issuer   = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
  audience = "statuspulse"
  conditions = {
    sub = "system:serviceaccount:monitoring:statuspulse-sync"
  }
  service_account_id     = statuspulse_role_binding.status_sync.service_account_id
  scopes                 = ["read:checks"]
  token_lifetime_seconds = 600
}

# What a pipeline sets as STATUSPULSE_WORKLOAD_IDENTITY when several policies match its tokens.
output "github_workload_identity" {
  value = statuspulse_workload_identity.github.id
}
