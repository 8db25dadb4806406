//! `/v1/anomaly-rules` (scope `admin:audit`): what the anomaly detector (`crate::anomaly`) watches
//! each workspace's audit log for. Every workspace has one default rule per kind from its
//! provisioning ([`insert_defaults`]); users may change, disable or delete them, and add more
//! rules of a kind with other thresholds. Every change is audited with the rule before and after.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::json;
use sqlx::{Any, Transaction};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::platform::clock::rfc3339;
use crate::platform::ids;
use statuspulse_api::v1::anomaly_rules::{ValidAnomalyRule, MAX_RULES};
pub use statuspulse_api::v1::{AnomalyKind, AnomalyRule, CreateAnomalyRule, UpdateAnomalyRule};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_anomaly_rules, create_anomaly_rule))
        .routes(routes!(
            get_anomaly_rule,
            update_anomaly_rule,
            delete_anomaly_rule
        ))
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RuleRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: String,
    pub enabled: i64,
    pub threshold: Option<i64>,
    pub window_minutes: i64,
    pub min_key_age_hours: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const COLUMNS: &str = "id, workspace_id, name, kind, enabled, threshold, \
    window_minutes, min_key_age_hours, created_at, updated_at";

impl RuleRow {
    fn view(self) -> AnomalyRule {
        AnomalyRule {
            id: self.id,
            workspace_id: self.workspace_id,
            name: self.name,
            kind: self.kind,
            enabled: self.enabled != 0,
            threshold: self.threshold,
            window_minutes: self.window_minutes,
            min_key_age_hours: self.min_key_age_hours,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

/// Inserts one enabled rule of each kind, with the kind's defaults, and starts the detector's
/// cursor at the chain's beginning: part of provisioning a workspace (not audited apart from
/// the workspace's creation, like its first key's scopes).
pub async fn insert_defaults(
    tx: &mut Transaction<'static, Any>,
    workspace_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    for kind in AnomalyKind::ALL {
        let d = kind.defaults();
        insert(
            tx,
            &ids::new_id(ids::ANOMALY_RULE),
            workspace_id,
            &ValidAnomalyRule {
                name: kind.default_rule_name(),
                kind,
                enabled: true,
                threshold: d.threshold,
                window_minutes: d.window_minutes,
                min_key_age_hours: d.min_key_age_hours,
            },
            now,
        )
        .await?;
    }
    sqlx::query(
        "INSERT INTO anomaly_cursors (workspace_id, seq) VALUES ($1, 0) \
         ON CONFLICT (workspace_id) DO NOTHING",
    )
    .bind(workspace_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    workspace_id: &str,
    rule: &ValidAnomalyRule,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO anomaly_rules (id, workspace_id, name, kind, enabled, threshold, \
         window_minutes, min_key_age_hours, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(&rule.name)
    .bind(rule.kind.as_str())
    .bind(i64::from(rule.enabled))
    .bind(rule.threshold)
    .bind(rule.window_minutes)
    .bind(rule.min_key_age_hours)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<AnomalyRule> {
    let row: RuleRow = crate::platform::db::find_in_workspace(
        &state.db,
        "anomaly_rules",
        COLUMNS,
        ids::ANOMALY_RULE,
        caller.workspace_id(),
        id,
    )
    .await?;
    Ok(row.view())
}

/// Create an anomaly rule. Thresholds left out take the kind's defaults; it watches events
/// appended from now on.
#[utoipa::path(post, path = "/v1/anomaly-rules", tag = "audit", request_body = CreateAnomalyRule,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = AnomalyRule), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn create_anomaly_rule(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateAnomalyRule>,
) -> ApiResult<(StatusCode, axum::Json<AnomalyRule>)> {
    caller.require(Scope::AdminAudit)?;
    let rule = statuspulse_api::validate::anomaly_rule(&body)?;
    let id = ids::new_id(ids::ANOMALY_RULE);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM anomaly_rules WHERE workspace_id = $1")
            .bind(caller.workspace_id())
            .fetch_one(&mut *tx.tx)
            .await?;
    if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_RULES {
        return Err(ApiError::conflict(
            "too_many_rules",
            format!("a workspace holds at most {MAX_RULES} anomaly rules"),
        ));
    }
    insert(&mut tx.tx, &id, caller.workspace_id(), &rule, now).await?;
    let answer = crate::platform::db::find_in_tx::<RuleRow>(
        &mut tx,
        "anomaly_rules",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?
    .view();
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AnomalyRuleCreated,
        caller.actor(),
    )
    .target("anomaly_rule", &id)
    .details(json!({"before": null, "after": answer}));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Read an anomaly rule.
#[utoipa::path(get, path = "/v1/anomaly-rules/{id}", tag = "audit", params(("id" = String, Path)),
    responses((status = 200, body = AnomalyRule), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn get_anomaly_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AnomalyRule>> {
    caller.require(Scope::AdminAudit)?;
    Ok(axum::Json(find(&state, &caller, &id).await?))
}

/// List anomaly rules, oldest first (the defaults first).
#[utoipa::path(get, path = "/v1/anomaly-rules", tag = "audit", params(PageParams),
    responses((status = 200, body = Page<AnomalyRule>)), security(("bearer" = ["admin:audit"])))]
pub async fn list_anomaly_rules(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<AnomalyRule>>> {
    caller.require(Scope::AdminAudit)?;
    let limit = page.limit()?;
    let rows: Vec<RuleRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM anomaly_rules WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    let views = rows.into_iter().map(RuleRow::view).collect();
    Ok(axum::Json(page_of(views, limit, |r| r.id.clone(), |r| r)))
}

/// Change an anomaly rule (not its kind). New thresholds apply from the detector's next pass;
/// an incident already open stays open until it is quiet for the window.
#[utoipa::path(patch, path = "/v1/anomaly-rules/{id}", tag = "audit", params(("id" = String, Path)),
    request_body = UpdateAnomalyRule,
    responses((status = 200, body = AnomalyRule), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn update_anomaly_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateAnomalyRule>,
) -> ApiResult<axum::Json<AnomalyRule>> {
    caller.require(Scope::AdminAudit)?;
    let before = find(&state, &caller, &id).await?;
    let merged = statuspulse_api::validate::anomaly_rule(&body.merged(&before))?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE anomaly_rules SET name = $1, enabled = $2, threshold = $3, window_minutes = $4, \
         min_key_age_hours = $5, updated_at = $6 WHERE id = $7 AND workspace_id = $8",
    )
    .bind(&merged.name)
    .bind(i64::from(merged.enabled))
    .bind(merged.threshold)
    .bind(merged.window_minutes)
    .bind(merged.min_key_age_hours)
    .bind(state.clock.now_ms())
    .bind(&id)
    .bind(caller.workspace_id())
    .execute(&mut *tx.tx)
    .await?;
    let after = crate::platform::db::find_in_tx::<RuleRow>(
        &mut tx,
        "anomaly_rules",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?
    .view();
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AnomalyRuleUpdated,
        caller.actor(),
    )
    .target("anomaly_rule", &id)
    .details(json!({"before": before, "after": after}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(axum::Json(after))
}

/// Delete an anomaly rule, and what the detector remembered under it.
#[utoipa::path(delete, path = "/v1/anomaly-rules/{id}", tag = "audit", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:audit"])))]
pub async fn delete_anomaly_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminAudit)?;
    let before = find(&state, &caller, &id).await?;
    let mut tx = state.db.begin_write().await?;
    // Explicitly, not only by the foreign key: SQLite enforces cascades per connection setting.
    sqlx::query("DELETE FROM anomaly_incidents WHERE rule_id = $1 AND workspace_id = $2")
        .bind(&id)
        .bind(caller.workspace_id())
        .execute(&mut *tx.tx)
        .await?;
    sqlx::query("DELETE FROM anomaly_rules WHERE id = $1 AND workspace_id = $2")
        .bind(&id)
        .bind(caller.workspace_id())
        .execute(&mut *tx.tx)
        .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AnomalyRuleDeleted,
        caller.actor(),
    )
    .target("anomaly_rule", &id)
    .details(json!({"before": before, "after": null}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}
