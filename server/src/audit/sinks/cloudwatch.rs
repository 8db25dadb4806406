//! CloudWatch Logs delivery: one log event per audit event (its JSON, chain position included),
//! through the `statuspulse-aws` crate's `logs` client (SigV4, PutLogEvents within CloudWatch's limits,
//! the stream created when missing, STS AssumeRole). Why a small client rather than the AWS SDK:
//! `aws/src/lib.rs`.
//!
//! Credentials are the sink's access key pair (its secret sealed with the master key), or else
//! the server's own from its environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`); with `role_arn`, they assume that role first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use secrecy::SecretString;
use statuspulse_aws::logs::{Client, Config, LogEvent};
use statuspulse_aws::{Auth, ErrorKind, StaticCredentials};

use super::delivery::Failure;
use super::{CloudWatchSettings, SinkRow};
use crate::app::AppState;
use statuspulse_api::v1::AuditEvent;

/// Clients kept between batches, per sink and version of its settings, so assumed-role
/// credentials and sequence tokens are reused.
#[derive(Debug, Default)]
pub struct Clients(Mutex<HashMap<String, (i64, Client)>>);

/// At most this many clients are kept (a workspace has at most 10 sinks; past it the cache
/// starts over rather than grow).
const MAX_CLIENTS: usize = 10_000;

impl Clients {
    fn get_or_build(
        &self,
        row: &SinkRow,
        build: impl FnOnce() -> Result<Client, Failure>,
    ) -> Result<Client, Failure> {
        let mut clients = self
            .0
            .lock()
            .map_err(|_| Failure::retry("the CloudWatch client cache is unavailable"))?;
        if let Some((version, client)) = clients.get(&row.id) {
            if *version == row.updated_at {
                return Ok(client.clone());
            }
        }
        let client = build()?;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(row.id.clone(), (row.updated_at, client.clone()));
        Ok(client)
    }
}

fn credentials(
    settings: &CloudWatchSettings,
    secret: Option<&[u8]>,
) -> Result<StaticCredentials, Failure> {
    if let (Some(id), Some(secret)) = (&settings.access_key_id, secret) {
        let secret = std::str::from_utf8(secret)
            .map_err(|_| Failure::retry("the sink's stored secret is not text"))?;
        return Ok(StaticCredentials {
            access_key_id: id.clone(),
            secret_access_key: SecretString::from(secret.to_owned()),
            session_token: None,
        });
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(StaticCredentials {
            access_key_id: id,
            secret_access_key: SecretString::from(secret),
            session_token: env("AWS_SESSION_TOKEN").map(SecretString::from),
        }),
        _ => Err(Failure::retry(
            "the sink has no credentials: give cloudwatch.access_key_id and secret_access_key, or \
             run the server with AWS credentials in its environment",
        )),
    }
}

fn build(state: &AppState, row: &SinkRow, now: i64) -> Result<Client, Failure> {
    let settings: CloudWatchSettings = serde_json::from_str(&row.settings)
        .map_err(|_| Failure::retry("the sink's stored settings do not parse"))?;
    if let Some(endpoint) = &settings.endpoint_override {
        // Checked again at delivery: the server's allowances may have changed since the sink was
        // made. Names are checked by the resolver as they are connected to.
        crate::platform::egress::check_addresses(endpoint, state.settings.sink_addresses)
            .map_err(|why| Failure::retry(format!("{why}: this server may not deliver there")))?;
    }
    let secrets = row
        .open_secrets(state.master_keys.as_deref(), now)
        .map_err(Failure::retry)?;
    let base = credentials(&settings, secrets.first().map(|s| s.as_slice()))?;
    let auth = match &settings.role_arn {
        Some(role_arn) => Auth::AssumeRole {
            base,
            role_arn: role_arn.clone(),
            external_id: settings.external_id.clone(),
            session_name: format!("statuspulse-audit-{}", row.id),
        },
        None => Auth::Static(base),
    };
    let config = Config {
        region: settings.region,
        log_group: settings.log_group,
        log_stream: settings.log_stream,
        endpoint: settings.endpoint_override,
        auth,
    };
    Ok(Client::new(state.sinks.http()?.clone(), config))
}

/// Writes `events` to the sink's log stream, in order.
pub async fn send(
    state: &AppState,
    row: &SinkRow,
    events: &[AuditEvent],
    now: i64,
) -> Result<(), Failure> {
    let client = state
        .sinks
        .cloudwatch
        .get_or_build(row, || build(state, row, now))?;
    let mut log_events = Vec::with_capacity(events.len());
    for event in events {
        let at = time::OffsetDateTime::parse(
            &event.occurred_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|_| Failure::retry("an event's time does not parse"))?;
        log_events.push(LogEvent {
            timestamp_ms: i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
            message: serde_json::to_string(event)
                .map_err(|_| Failure::retry("an event could not be serialised"))?,
        });
    }
    match client.put(&log_events).await {
        Ok(outcome) => {
            let rejected =
                outcome.rejected_too_old + outcome.rejected_too_new + outcome.rejected_expired;
            if rejected > 0 || outcome.truncated > 0 {
                tracing::warn!(
                    sink = %row.id,
                    too_old = outcome.rejected_too_old,
                    too_new = outcome.rejected_too_new,
                    expired = outcome.rejected_expired,
                    truncated = outcome.truncated,
                    "CloudWatch refused or cut some audit events (outside its time window or size limit)"
                );
            }
            Ok(())
        }
        Err(e) => Err(Failure {
            retry_after: match e.kind {
                ErrorKind::Throttled { retry_after } => {
                    retry_after.map(|d| d.min(Duration::from_secs(3600)))
                }
                _ => None,
            },
            delivered: e.delivered,
            message: e.message,
        }),
    }
}
