//! What every layer stands on: the database, the clock, settings, metrics, client networks
//! behind trusted proxies, rate limits and object ids. Nothing here knows a feature.

pub mod aead;
pub mod clock;
pub mod config;
pub mod db;
pub mod egress;
pub mod idempotency;
pub mod ids;
pub mod leases;
pub mod metrics;
pub mod network;
pub mod rate_limit;
pub mod secrets;
