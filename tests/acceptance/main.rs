//! Acceptance tests: real Terraform (1.0.3, 1.11.4, 1.15.5) against a real StatusPulse server on
//! port 0 with SQLite, through the provider binary built by this package.
//!
//! Run with `cargo test -p statuspulse-e2e --test acceptance` (or
//! scripts/tf-acceptance.sh); the tests install Terraform and build the server themselves.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_policy;
mod anomaly_rule;
mod api_keys;
mod audit_settings;
mod audit_sink;
// moto_server with IAM enforced, shared with the AWS crate's own tests.
#[path = "../../aws/tests/support/mod.rs"]
mod aws_support;
mod ci_issuer;
mod diagnostics;
mod ephemeral;
mod examples;
mod fault_proxy;
mod faults;
mod harness;
mod oauth;
mod secret_store;
mod sso;
mod walkthrough;
mod workload_identity;

#[test]
fn lifecycle_on_terraform_1_0_3() {
    walkthrough::walk("1.0.3");
}

#[test]
fn lifecycle_on_terraform_1_11_4() {
    walkthrough::walk("1.11.4");
}

#[test]
fn lifecycle_on_terraform_1_15_5() {
    walkthrough::walk("1.15.5");
}

#[test]
fn service_account_deleted_outside_terraform_is_recreated() {
    walkthrough::service_account_deleted_outside_is_recreated("1.0.3");
}

#[test]
fn every_example_applies_and_destroys_on_terraform_1_0_3() {
    examples::apply_and_destroy_all("1.0.3");
}

#[test]
fn every_example_applies_and_destroys_on_terraform_1_11_4() {
    examples::apply_and_destroy_all("1.11.4");
}

#[test]
fn every_example_applies_and_destroys_on_terraform_1_15_5() {
    examples::apply_and_destroy_all("1.15.5");
}

#[test]
fn a_wrong_credential_is_one_clear_diagnostic() {
    diagnostics::wrong_credential("1.15.5");
}

#[test]
fn a_missing_credential_is_one_clear_diagnostic() {
    diagnostics::missing_credential("1.0.3");
}

#[test]
fn plan_time_validation_points_at_the_offending_attribute() {
    diagnostics::validation("1.15.5");
}

#[test]
fn importing_a_missing_or_malformed_id_is_a_clear_diagnostic_without_backtrace() {
    diagnostics::bad_imports("1.0.3");
}

#[test]
fn plan_time_checks_refuse_everything_the_server_refuses_on_the_same_attribute() {
    diagnostics::plan_time_checks_refuse_what_the_server_refuses();
}

#[test]
fn a_test_key_bound_to_a_live_cluster_is_refused_at_plan_time() {
    diagnostics::test_key_in_live_cluster("1.0.3");
}

#[test]
fn what_only_the_server_knows_is_judged_at_plan_time_on_terraform_1_11_4() {
    diagnostics::server_checks_at_plan_time("1.11.4");
}

#[test]
fn effective_access_needs_exactly_one_principal_at_plan_time() {
    diagnostics::effective_access_needs_exactly_one_principal("1.0.3");
}

#[test]
fn an_ephemeral_key_works_during_apply_and_is_revoked_after_on_terraform_1_11_4() {
    ephemeral::key_lives_for_the_run("1.11.4");
}

#[test]
fn an_ephemeral_key_works_during_apply_and_is_revoked_after_on_terraform_1_15_5() {
    ephemeral::key_lives_for_the_run("1.15.5");
}

#[test]
fn an_ephemeral_block_is_refused_by_terraform_1_0_3_before_any_key_is_minted() {
    ephemeral::refused_by_terraform_without_ephemeral_blocks("1.0.3");
}

#[test]
fn sso_write_only_secret_stays_out_of_plan_and_state_on_terraform_1_11_4() {
    sso::write_only_secret_stays_out_of_plan_and_state("1.11.4");
}

#[test]
fn sso_write_only_secret_stays_out_of_plan_and_state_on_terraform_1_15_5() {
    sso::write_only_secret_stays_out_of_plan_and_state("1.15.5");
}

#[test]
fn sso_write_only_secret_is_refused_on_terraform_1_0_3() {
    sso::write_only_secret_is_refused_before_1_11("1.0.3");
}

#[test]
fn oauth_client_lifecycle_on_terraform_1_0_3() {
    oauth::lifecycle("1.0.3");
}

#[test]
fn oauth_client_lifecycle_on_terraform_1_11_4() {
    oauth::lifecycle("1.11.4");
}

#[test]
fn oauth_client_lifecycle_on_terraform_1_15_5() {
    oauth::lifecycle("1.15.5");
}

#[test]
fn oauth_client_plan_time_validation_points_at_the_offending_attribute() {
    oauth::plan_time_validation("1.0.3");
}

#[test]
fn access_policy_lifecycle_on_terraform_1_0_3() {
    access_policy::lifecycle("1.0.3");
}

#[test]
fn access_policy_lifecycle_on_terraform_1_11_4() {
    access_policy::lifecycle("1.11.4");
}

#[test]
fn access_policy_lifecycle_on_terraform_1_15_5() {
    access_policy::lifecycle("1.15.5");
}

#[test]
fn access_policy_plan_time_validation_points_at_the_offending_attribute() {
    access_policy::plan_time_validation("1.11.4");
}

#[test]
fn workload_identity_lifecycle_on_terraform_1_0_3() {
    workload_identity::lifecycle("1.0.3");
}

#[test]
fn workload_identity_lifecycle_on_terraform_1_11_4() {
    workload_identity::lifecycle("1.11.4");
}

#[test]
fn workload_identity_lifecycle_on_terraform_1_15_5() {
    workload_identity::lifecycle("1.15.5");
}

#[test]
fn a_pipeline_authenticates_with_an_oidc_token_file_on_terraform_1_0_3() {
    workload_identity::token_file_and_token_value("1.0.3");
}

#[test]
fn a_pipeline_authenticates_with_an_oidc_token_file_on_terraform_1_11_4() {
    workload_identity::token_file_and_token_value("1.11.4");
}

#[test]
fn a_pipeline_authenticates_with_an_oidc_token_file_on_terraform_1_15_5() {
    workload_identity::token_file_and_token_value("1.15.5");
}

#[test]
fn a_github_actions_job_applies_with_no_configuration_on_terraform_1_0_3() {
    workload_identity::github_actions_job_needs_no_configuration("1.0.3");
}

#[test]
fn a_github_actions_job_applies_with_no_configuration_on_terraform_1_15_5() {
    workload_identity::github_actions_job_needs_no_configuration("1.15.5");
}

#[test]
fn an_api_key_and_an_oidc_token_in_the_provider_block_are_refused() {
    workload_identity::conflicting_credentials_are_refused("1.0.3");
}

#[test]
fn api_keys_data_source_finds_unmanaged_keys_on_terraform_1_0_3() {
    api_keys::unmanaged_keys_are_found("1.0.3");
}

#[test]
fn api_keys_data_source_finds_unmanaged_keys_on_terraform_1_15_5() {
    api_keys::unmanaged_keys_are_found("1.15.5");
}

#[test]
fn a_hung_server_costs_the_configured_timeout_on_terraform_1_11_4() {
    diagnostics::a_hung_server_costs_the_configured_timeout("1.11.4");
}

#[test]
fn a_plan_of_many_resources_reads_them_through_one_listing_on_terraform_1_11_4() {
    diagnostics::a_plan_of_many_resources_reads_them_through_one_listing("1.11.4");
}

#[test]
fn requests_and_retries_are_logged_for_tf_log_on_terraform_1_0_3() {
    diagnostics::requests_and_retries_are_logged_for_tf_log_without_the_key("1.0.3");
}

#[test]
fn requests_and_retries_are_logged_for_tf_log_on_terraform_1_11_4() {
    diagnostics::requests_and_retries_are_logged_for_tf_log_without_the_key("1.11.4");
}

#[test]
fn anomaly_rule_lifecycle_on_terraform_1_0_3() {
    anomaly_rule::lifecycle("1.0.3");
}

#[test]
fn anomaly_rule_lifecycle_on_terraform_1_15_5() {
    anomaly_rule::lifecycle("1.15.5");
}

#[test]
fn anomaly_rule_plan_time_validation_points_at_the_offending_attribute() {
    anomaly_rule::plan_time_validation("1.11.4");
}

#[test]
fn audit_sink_lifecycle_on_terraform_1_0_3() {
    audit_sink::lifecycle("1.0.3");
}

#[test]
fn audit_sink_lifecycle_on_terraform_1_11_4() {
    audit_sink::lifecycle("1.11.4");
}

#[test]
fn audit_sink_lifecycle_on_terraform_1_15_5() {
    audit_sink::lifecycle("1.15.5");
}

#[test]
fn audit_settings_lifecycle_on_terraform_1_0_3() {
    audit_settings::lifecycle("1.0.3");
}

#[test]
fn audit_settings_lifecycle_on_terraform_1_11_4() {
    audit_settings::lifecycle("1.11.4");
}

#[test]
fn audit_settings_lifecycle_on_terraform_1_15_5() {
    audit_settings::lifecycle("1.15.5");
}

#[test]
fn a_flaky_gateway_leaves_no_orphaned_credentials_on_terraform_1_0_3() {
    faults::a_flaky_gateway_leaves_no_orphaned_credentials("1.0.3");
}

#[test]
fn a_flaky_gateway_leaves_no_orphaned_credentials_on_terraform_1_15_5() {
    faults::a_flaky_gateway_leaves_no_orphaned_credentials("1.15.5");
}

#[test]
fn a_429_storm_is_waited_out_and_a_refusing_gateway_explained_on_terraform_1_11_4() {
    faults::a_429_storm_is_waited_out_and_a_refusing_gateway_explained("1.11.4");
}

#[test]
fn a_secret_store_keeps_the_key_out_of_state_and_takes_its_successor_on_terraform_1_0_3() {
    secret_store::lifecycle("1.0.3");
}

#[test]
fn a_secret_store_keeps_the_key_out_of_state_and_takes_its_successor_on_terraform_1_11_4() {
    secret_store::lifecycle("1.11.4");
}

#[test]
fn a_secret_store_keeps_the_key_out_of_state_and_takes_its_successor_on_terraform_1_15_5() {
    secret_store::lifecycle("1.15.5");
}

#[test]
fn a_secret_store_that_refuses_the_key_leaves_no_active_key_on_terraform_1_0_3() {
    secret_store::store_failures("1.0.3");
}

#[test]
fn a_secret_store_that_refuses_the_key_leaves_no_active_key_on_terraform_1_11_4() {
    secret_store::store_failures("1.11.4");
}

#[test]
fn secret_store_plan_time_validation_points_at_the_offending_attribute() {
    secret_store::plan_time_validation("1.0.3");
}
