//! Integration tests: the real router on a real listener, over SQLite and PostgreSQL.
//! Every test runs once per backend (`<test>::sqlite`, `<test>::postgres`), except `idp::harness`,
//! which tests the SSO tests' OpenID provider alone, without our server.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod access;
mod access_policies;
mod anomaly_rules;
mod api_keys;
mod audit;
mod audit_export;
mod audit_retention;
mod audit_sinks;
mod browser;
mod connection_tests;
mod console;
mod contract;
mod edge;
mod failures;
mod grants;
mod hygiene;
mod idempotency;
mod idp;
mod isolation;
mod jobs;
mod jwks_rotation;
mod negative;
mod oauth;
mod replicas;
mod secrets;
mod service_accounts;
mod sign_in;
mod sign_in_attacks;
mod sign_in_saml;
mod sso_connections;
mod verify;
mod webdriver;
mod workload_identity;
