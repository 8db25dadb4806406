//! `/v1/audit-events`: read, filter and verify the caller's workspace chain.

use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{verify_chain, ChainReport, StoredEvent};
use crate::app::AppState;
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::Caller;
use crate::platform::clock::rfc3339;
pub use statuspulse_api::v1::{AuditActor, AuditEvent, AuditTarget};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_events))
        .routes(routes!(verify_audit_chain))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Exact event type, for example `api_key.revoked` or `auth.failed`.
    pub event_type: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Id of the object the event is about.
    pub target_id: Option<String>,
    /// RFC 3339; events at or after.
    pub since: Option<String>,
    /// RFC 3339; events before.
    pub until: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^(?:(?:[A-Za-z0-9_-]{4}){0,100}|(?:[A-Za-z0-9_-]{4}){0,99}(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]))$"
    )]
    pub cursor: Option<String>,
}

impl From<StoredEvent> for AuditEvent {
    fn from(e: StoredEvent) -> Self {
        Self {
            details: serde_json::from_str(&e.details).unwrap_or_default(),
            event_id: e.event_id,
            seq: e.seq,
            workspace_id: e.workspace_id,
            occurred_at: rfc3339(e.occurred_at),
            event_type: e.event_type,
            actor: AuditActor {
                kind: e.actor_type,
                id: e.actor_id,
            },
            target: e
                .target_type
                .zip(e.target_id)
                .map(|(kind, id)| AuditTarget { kind, id }),
            outcome: e.outcome,
            reason: e.reason,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

fn parse_time(field: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    value
        .map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map(crate::platform::clock::to_ms)
                .map_err(|_| {
                    ApiError::invalid(
                        field,
                        "invalid_time",
                        format!("{field} must be an RFC 3339 time"),
                    )
                })
        })
        .transpose()
}

/// Page through the workspace's audit events in chain order, with optional filters.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", params(AuditFilter),
    responses((status = 200, body = Page<AuditEvent>)), security(("bearer" = ["admin:audit"])))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AuditFilter>,
) -> ApiResult<axum::Json<Page<AuditEvent>>> {
    caller.require(Scope::AdminAudit)?;
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    };
    let limit = page.limit()?;
    let after: i64 = match page.after()?.as_str() {
        "" => 0,
        s => s.parse().map_err(|_| {
            ApiError::invalid(
                "cursor",
                "invalid_cursor",
                "cursor is not one this API issued",
            )
        })?,
    };
    if let Some(o) = &filter.outcome {
        if o != "success" && o != "failure" {
            return Err(ApiError::invalid(
                "outcome",
                "invalid_outcome",
                "outcome must be success or failure",
            ));
        }
    }
    let since = parse_time("since", filter.since.as_deref())?;
    let until = parse_time("until", filter.until.as_deref())?;
    // Optional filters are written as "($n IS NULL OR col = $n)" so one statement serves all.
    let rows: Vec<StoredEvent> = sqlx::query_as(
        "SELECT * FROM audit_events WHERE workspace_id = $1 AND seq > $2 \
         AND ($3 IS NULL OR event_type = $3) AND ($4 IS NULL OR outcome = $4) \
         AND ($5 IS NULL OR target_id = $5) AND ($6 IS NULL OR occurred_at >= $6) \
         AND ($7 IS NULL OR occurred_at < $7) ORDER BY seq LIMIT $8",
    )
    .bind(caller.workspace_id())
    .bind(after)
    .bind(filter.event_type.as_deref())
    .bind(filter.outcome.as_deref())
    .bind(filter.target_id.as_deref())
    .bind(since)
    .bind(until)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    Ok(axum::Json(page_of(
        rows,
        limit,
        |e| e.seq.to_string(),
        Into::into,
    )))
}

/// Recompute the workspace's whole hash chain and report whether it is intact.
#[utoipa::path(get, path = "/v1/audit-events/verify", tag = "audit",
    responses((status = 200, body = ChainReport)), security(("bearer" = ["admin:audit"])))]
pub async fn verify_audit_chain(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<ChainReport>> {
    caller.require(Scope::AdminAudit)?;
    Ok(axum::Json(
        verify_chain(state.db.pool(), caller.workspace_id()).await?,
    ))
}
