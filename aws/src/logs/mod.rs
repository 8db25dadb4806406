//! CloudWatch Logs for StatusPulse's `cloudwatch` audit sinks: PutLogEvents within CloudWatch's
//! limits, CreateLogStream when the stream is missing, and STS AssumeRole for role credentials.
//! The sink engine in the server owns the cursor, the retries and the backoff; this module sends
//! one slice of events and says exactly how far it got.
//!
//! # Sequence tokens
//! CloudWatch has ignored sequence tokens since 2023 and no longer answers
//! InvalidSequenceToken or DataAlreadyAccepted; moto does not emulate them either. Older or
//! compatible endpoints may, so the client still caches `nextSequenceToken`, sends it, and follows
//! `expectedSequenceToken` from those two errors (tested against a stub, `tests/logs_stub_answers.rs`).

mod batch;
mod client;

pub use crate::error::PutError;
pub use client::Client;

use crate::Auth;

/// Where and as whom to write.
#[derive(Debug, Clone)]
pub struct Config {
    /// AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// The log group; it must exist (StatusPulse creates only the stream).
    pub log_group: String,
    /// The log stream, created when missing.
    pub log_stream: String,
    /// Test endpoint for both logs and STS (e.g. `http://127.0.0.1:PORT`); `None` means
    /// `https://logs.{region}.amazonaws.com` and `https://sts.{region}.amazonaws.com`.
    pub endpoint: Option<String>,
    /// How to authenticate.
    pub auth: Auth,
}

/// One event to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The message (for audit sinks, the event's JSON).
    pub message: String,
}

/// What a successful `put` stored, less what CloudWatch refused event by event. Rejected events are
/// not an error: retrying them would be refused again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOutcome {
    /// More than 14 days old, or older than the log group's retention.
    pub rejected_too_old: usize,
    /// More than 2 hours in the future.
    pub rejected_too_new: usize,
    /// Older than the log group's retention period.
    pub rejected_expired: usize,
    /// Messages over CloudWatch's 256 KiB per-event limit, sent cut to that size rather than
    /// refused whole.
    pub truncated: usize,
}
