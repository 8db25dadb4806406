//! `/v1/audit-events`: read, filter, export and verify the caller's workspace chain.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
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
        .routes(routes!(export_audit_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Exact event type, for example `api_key.revoked` or `auth.failed`.
    pub event_type: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Id of who acted (a key's `key_…`, a user's `usr_…`, a service account's `sa_…`).
    pub actor_id: Option<String>,
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
         AND ($7 IS NULL OR occurred_at < $7) AND ($8 IS NULL OR actor_id = $8) \
         ORDER BY seq LIMIT $9",
    )
    .bind(caller.workspace_id())
    .bind(after)
    .bind(filter.event_type.as_deref())
    .bind(filter.outcome.as_deref())
    .bind(filter.target_id.as_deref())
    .bind(since)
    .bind(until)
    .bind(filter.actor_id.as_deref())
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportRange {
    /// First chain position to export (default 1). Its line's `prev_hash` is where an offline
    /// check starts.
    #[param(minimum = 1)]
    pub from_seq: Option<i64>,
    /// Last chain position to export (default: the chain's head when the export starts).
    #[param(minimum = 1)]
    pub to_seq: Option<i64>,
}

/// Events read from the database per query while exporting: bounds the memory an export holds.
const EXPORT_BATCH: i64 = 1000;

/// Stream the workspace's chain (or a `from_seq`..`to_seq` part of it) as JSON Lines, one event a
/// line in `seq` order, with everything an offline check needs (`statuspulse-server audit verify
/// --file`).
#[utoipa::path(get, path = "/v1/audit-events/export", tag = "audit", params(ExportRange),
    responses((status = 200, content_type = "application/x-ndjson", body = AuditEvent,
        description = "One event per line, in seq order.")),
    security(("bearer" = ["admin:audit"])))]
pub async fn export_audit_events(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ExportRange>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    caller.require(Scope::AdminAudit)?;
    let Query(range) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    for (field, value) in [("from_seq", range.from_seq), ("to_seq", range.to_seq)] {
        if value.is_some_and(|v| v < 1) {
            return Err(ApiError::invalid(
                field,
                "invalid_seq",
                format!("{field} must be at least 1"),
            ));
        }
    }
    let from = range.from_seq.unwrap_or(1);
    // Fixing the end now makes the export a snapshot: appends during a long download do not
    // keep it open forever.
    let to = match range.to_seq {
        Some(to) if to < from => {
            return Err(ApiError::invalid(
                "to_seq",
                "invalid_seq",
                "to_seq must not be before from_seq",
            ))
        }
        Some(to) => to,
        None => sqlx::query_scalar::<_, i64>(
            "SELECT seq FROM audit_chain_heads WHERE workspace_id = $1",
        )
        .bind(caller.workspace_id())
        .fetch_optional(state.db.pool())
        .await?
        .unwrap_or(0),
    };
    let pool = state.db.pool().clone();
    let workspace_id = caller.workspace_id().to_owned();
    let batches = futures::stream::try_unfold(from, move |next| {
        let (pool, workspace_id) = (pool.clone(), workspace_id.clone());
        async move {
            if next > to {
                return Ok(None);
            }
            let rows: Vec<StoredEvent> = sqlx::query_as(
                "SELECT * FROM audit_events WHERE workspace_id = $1 AND seq >= $2 AND seq <= $3 \
                 ORDER BY seq LIMIT $4",
            )
            .bind(&workspace_id)
            .bind(next)
            .bind(to)
            .bind(EXPORT_BATCH)
            .fetch_all(&pool)
            .await
            .inspect_err(|e| tracing::error!(error = %e, "audit export cut short"))?;
            let Some(last) = rows.last().map(|e| e.seq) else {
                return Ok(None);
            };
            let mut lines = Vec::with_capacity(rows.len() * 512);
            for event in rows {
                serde_json::to_writer(&mut lines, &AuditEvent::from(event))
                    .map_err(|e| sqlx::Error::Decode(e.into()))?;
                lines.push(b'\n');
            }
            Ok::<_, sqlx::Error>(Some((Bytes::from(lines), last + 1)))
        }
    });
    Ok((
        [(CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(batches),
    )
        .into_response())
}
