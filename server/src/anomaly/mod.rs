//! The anomaly detector: a cluster-wide job (one replica at a time, under the
//! `anomaly_detection` lease) that reads each workspace's audit chain past its cursor, feeds the
//! events to the workspace's enabled rules ([`rules`]) and appends an `anomaly.detected` event
//! for each incident that opens.
//!
//! Exactly once: the alerts of a page of events, the detector's state for the subjects they
//! touched and the cursor past the page are written in one transaction, and the cursor moves
//! only from the value the page was read at (compare and set), so neither a crash nor two
//! replicas racing on an expired lease loses or repeats an alert. `anomaly.detected` events are
//! read past, never fed back to the rules.
//!
//! Bounded: events are read a page at a time; the state of one workspace is at most
//! [`MAX_TRACKS_PER_WORKSPACE`] subjects (the oldest quiet ones are dropped first); an incident
//! closed for [`CLOSED_RETENTION_MS`] is deleted, and observations that opened no incident are
//! deleted after a day (the longest window).
//!
//! `new_network` reads `api_key_networks` instead of the audit log (a successful verification
//! is not an audit event): each row is judged once, in the transaction that marks it judged.

pub mod rules;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Any, Transaction};

use crate::app::App;
use crate::audit::{self, Actor, EventType, NewEvent};
use crate::platform::clock::DAY_MS;
use crate::platform::ids;
use rules::{observations, reads, Observation, Rule, SeenEvent, Track};
use statuspulse_api::v1::AnomalyKind;

/// How often the detector runs: an alert follows its events within a few seconds.
pub const DETECT_EVERY: Duration = Duration::from_secs(2);
/// Events read at once.
const PAGE: i64 = 500;
/// Pages per workspace and run, so that one busy workspace does not hold up the others.
const PAGES_PER_RUN: usize = 20;
/// Subjects remembered per workspace, across its rules.
pub const MAX_TRACKS_PER_WORKSPACE: i64 = 10_000;
/// How long a closed incident is kept.
pub const CLOSED_RETENTION_MS: i64 = 30 * DAY_MS;

/// One run: every workspace's new events, then the newly seen key networks, then the purge.
/// Returns how many alerts were raised.
pub async fn detect(app: &App) -> anyhow::Result<usize> {
    let chains: Vec<(String, i64)> = sqlx::query_as(
        "SELECT h.workspace_id, COALESCE(c.seq, -1) FROM audit_chain_heads h \
         JOIN workspaces w ON w.id = h.workspace_id \
         LEFT JOIN anomaly_cursors c ON c.workspace_id = h.workspace_id \
         WHERE c.seq IS NULL OR h.seq > c.seq ORDER BY h.workspace_id",
    )
    .fetch_all(app.db.pool())
    .await?;
    let mut raised = 0;
    for (workspace_id, cursor) in chains {
        let mut cursor = if cursor < 0 {
            sqlx::query(
                "INSERT INTO anomaly_cursors (workspace_id, seq) VALUES ($1, 0) \
                 ON CONFLICT (workspace_id) DO NOTHING",
            )
            .bind(&workspace_id)
            .execute(app.db.pool())
            .await?;
            0
        } else {
            cursor
        };
        for _ in 0..PAGES_PER_RUN {
            match detect_page(app, &workspace_id, cursor).await? {
                Some((next, alerts)) => {
                    cursor = next;
                    raised += alerts;
                }
                None => break,
            }
        }
    }
    raised += detect_new_networks(app).await?;
    purge(app).await?;
    Ok(raised)
}

async fn enabled_rules(app: &App, workspace_id: &str) -> Result<Vec<Rule>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, kind, threshold, window_minutes, min_key_age_hours FROM anomaly_rules \
         WHERE workspace_id = $1 AND enabled = 1 ORDER BY id",
    )
    .bind(workspace_id)
    .fetch_all(app.db.pool())
    .await
}

/// The events after `cursor`, judged: `None` when there were none, or another run moved the
/// cursor meanwhile; else the new cursor and the alerts raised.
async fn detect_page(
    app: &App,
    workspace_id: &str,
    cursor: i64,
) -> anyhow::Result<Option<(i64, usize)>> {
    let events: Vec<SeenEvent> = sqlx::query_as(
        "SELECT seq, event_id, occurred_at, event_type, target_id, reason, details \
         FROM audit_events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(workspace_id)
    .bind(cursor)
    .bind(PAGE)
    .fetch_all(app.db.pool())
    .await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(None);
    };
    let rules: Vec<(AnomalyKind, Rule)> = enabled_rules(app, workspace_id)
        .await?
        .into_iter()
        .filter_map(|r| r.kind().map(|k| (k, r)))
        .collect();
    let mut tx = app.db.begin_write().await?;
    // First, so that a second run (another replica on an expired lease) waits for this one's
    // row lock and then finds the cursor moved: one of them judges the page.
    let moved =
        sqlx::query("UPDATE anomaly_cursors SET seq = $1 WHERE workspace_id = $2 AND seq = $3")
            .bind(last)
            .bind(workspace_id)
            .bind(cursor)
            .execute(&mut *tx.tx)
            .await?;
    if moved.rows_affected() != 1 {
        return Ok(None);
    }
    let mut tracks = Tracks::new(workspace_id);
    let mut alerts = vec![];
    for event in &events {
        if event.event_type == EventType::AnomalyDetected.as_str() {
            continue;
        }
        let mut details: Option<Value> = None;
        for (kind, rule) in &rules {
            if !reads(*kind, &event.event_type) {
                continue;
            }
            let details = details
                .get_or_insert_with(|| serde_json::from_str(&event.details).unwrap_or(Value::Null));
            let seen = observations(*kind, event, details);
            if let Some(alert) = tracks.observe_all(&mut tx.tx, *kind, rule, &seen).await? {
                alerts.push(alert);
            }
        }
    }
    tracks.save(&mut tx.tx).await?;
    for alert in &alerts {
        audit::append(&mut tx.tx, &app.clock, alert).await?;
    }
    tx.commit().await?;
    Ok(Some((last, alerts.len())))
}

/// The tracks a page touches, read once and written back once.
struct Tracks {
    workspace_id: String,
    /// `(rule id, subject)` → the stored row's id (if any) and the track (`None`: delete).
    loaded: HashMap<(String, String), (Option<String>, Option<Track>)>,
}

impl Tracks {
    fn new(workspace_id: &str) -> Self {
        Self {
            workspace_id: workspace_id.to_owned(),
            loaded: HashMap::new(),
        }
    }

    async fn take(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        rule_id: &str,
        subject: &str,
    ) -> Result<Track, sqlx::Error> {
        let key = (rule_id.to_owned(), subject.to_owned());
        if !self.loaded.contains_key(&key) {
            let row: Option<(String, String)> = sqlx::query_as(
                "SELECT id, state FROM anomaly_incidents WHERE rule_id = $1 AND subject = $2",
            )
            .bind(rule_id)
            .bind(subject)
            .fetch_optional(&mut **tx)
            .await?;
            let entry = match row {
                // A state that no longer parses is started afresh, never a failed run forever.
                Some((id, state)) => (Some(id), serde_json::from_str(&state).ok()),
                None => (None, None),
            };
            self.loaded.insert(key.clone(), entry);
        }
        let entry = self.loaded.get_mut(&key).map(|e| e.1.take());
        Ok(entry.flatten().unwrap_or_default())
    }

    fn put(&mut self, rule_id: &str, subject: &str, track: Option<Track>) {
        self.loaded
            .entry((rule_id.to_owned(), subject.to_owned()))
            .or_insert((None, None))
            .1 = track;
    }

    /// Feeds one event's observations to `rule`: at most one alert per rule and event (a burst
    /// from one network at one key is one incident, with both in its evidence).
    async fn observe_all(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        kind: AnomalyKind,
        rule: &Rule,
        seen: &[Observation],
    ) -> Result<Option<NewEvent>, sqlx::Error> {
        let mut alert: Option<NewEvent> = None;
        for o in seen {
            let mut track = self.take(tx, &rule.id, &o.subject).await?;
            if let Some(successor) = &o.moves_to {
                // The lineage's track is the successor's from now on.
                let theirs = self.take(tx, &rule.id, successor).await?;
                if theirs.last_at > track.last_at {
                    track = theirs;
                }
                self.put(&rule.id, &o.subject, None);
            }
            let subject = o.moves_to.as_deref().unwrap_or(&o.subject);
            if track.observe(kind, rule, o) && alert.is_none() {
                alert = Some(
                    NewEvent::success(
                        &self.workspace_id,
                        EventType::AnomalyDetected,
                        Actor::System,
                    )
                    .target("anomaly_rule", &rule.id)
                    .details(track.evidence(rule, subject)),
                );
            }
            self.put(&rule.id, subject, Some(track));
        }
        Ok(alert)
    }

    async fn save(self, tx: &mut Transaction<'static, Any>) -> Result<(), sqlx::Error> {
        let mut new_rows = 0i64;
        for ((rule_id, subject), (id, track)) in self.loaded {
            match (id, track) {
                (Some(id), None) => {
                    sqlx::query("DELETE FROM anomaly_incidents WHERE id = $1")
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                }
                (None, None) => {}
                (id, Some(track)) => {
                    let state =
                        serde_json::to_string(&track).map_err(|e| sqlx::Error::Encode(e.into()))?;
                    if id.is_none() {
                        new_rows += 1;
                    }
                    sqlx::query(
                        "INSERT INTO anomaly_incidents (id, workspace_id, rule_id, subject, state, \
                         alerted_at, last_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (rule_id, subject) DO UPDATE SET state = excluded.state, \
                         alerted_at = excluded.alerted_at, last_at = excluded.last_at",
                    )
                    .bind(id.unwrap_or_else(|| ids::new_id("ani")))
                    .bind(&self.workspace_id)
                    .bind(&rule_id)
                    .bind(&subject)
                    .bind(state)
                    .bind(track.alerted_at)
                    .bind(track.last_at)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        if new_rows > 0 {
            bound_tracks(tx, &self.workspace_id).await?;
        }
        Ok(())
    }
}

/// Keeps a workspace's tracks within [`MAX_TRACKS_PER_WORKSPACE`]: whoever can make subjects
/// (networks, failed keys) cannot grow the table without bound. Tracks without an incident go
/// first, then the longest quiet.
async fn bound_tracks(
    tx: &mut Transaction<'static, Any>,
    workspace_id: &str,
) -> Result<(), sqlx::Error> {
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM anomaly_incidents WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(&mut **tx)
            .await?;
    let excess = held - MAX_TRACKS_PER_WORKSPACE;
    if excess > 0 {
        sqlx::query(
            "DELETE FROM anomaly_incidents WHERE id IN (SELECT id FROM anomaly_incidents \
             WHERE workspace_id = $1 ORDER BY CASE WHEN alerted_at IS NULL THEN 0 ELSE 1 END, \
             last_at LIMIT $2)",
        )
        .bind(workspace_id)
        .bind(excess)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A network a key was first seen from, with what `new_network` judges it by.
#[derive(sqlx::FromRow)]
struct NewNetworkRow {
    api_key_id: String,
    network: String,
    workspace_id: String,
    first_seen_at: i64,
    key_id: String,
    key_created_at: i64,
    service_account_id: Option<String>,
}

/// `new_network`: each network newly recorded in `api_key_networks`, judged once.
async fn detect_new_networks(app: &App) -> anyhow::Result<usize> {
    let rows: Vec<NewNetworkRow> = sqlx::query_as(
        "SELECT n.api_key_id, n.network, n.workspace_id, n.first_seen_at, k.key_id, \
         k.created_at AS key_created_at, k.service_account_id FROM api_key_networks n \
         JOIN api_keys k ON k.id = n.api_key_id WHERE n.detected = 0 \
         ORDER BY n.first_seen_at, n.api_key_id, n.network LIMIT $1",
    )
    .bind(PAGE)
    .fetch_all(app.db.pool())
    .await?;
    let mut by_workspace: HashMap<String, Vec<NewNetworkRow>> = HashMap::new();
    for row in rows {
        by_workspace
            .entry(row.workspace_id.clone())
            .or_default()
            .push(row);
    }
    let mut raised = 0;
    for (workspace_id, rows) in by_workspace {
        let rules: Vec<Rule> = enabled_rules(app, &workspace_id)
            .await?
            .into_iter()
            .filter(|r| r.kind() == Some(AnomalyKind::NewNetwork))
            .collect();
        let mut tx = app.db.begin_write().await?;
        let mut tracks = Tracks::new(&workspace_id);
        let mut alerts = vec![];
        for row in &rows {
            let judged = sqlx::query(
                "UPDATE api_key_networks SET detected = 1 \
                 WHERE api_key_id = $1 AND network = $2 AND detected = 0",
            )
            .bind(&row.api_key_id)
            .bind(&row.network)
            .execute(&mut *tx.tx)
            .await?;
            if judged.rows_affected() != 1 || rules.is_empty() {
                continue;
            }
            let earlier: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM api_key_networks WHERE api_key_id = $1 AND network <> $2 \
                 AND first_seen_at <= $3",
            )
            .bind(&row.api_key_id)
            .bind(&row.network)
            .bind(row.first_seen_at)
            .fetch_one(&mut *tx.tx)
            .await?;
            if earlier == 0 {
                // The key's first network is its baseline, not an anomaly.
                continue;
            }
            let mut facts = serde_json::Map::new();
            facts.insert("api_key_id".to_owned(), json!(row.api_key_id));
            facts.insert("key_id".to_owned(), json!(row.key_id));
            facts.insert("known_networks".to_owned(), json!(earlier));
            if let Some(sa) = &row.service_account_id {
                facts.insert("service_account_id".to_owned(), json!(sa));
            }
            let seen = [Observation {
                subject: format!("api_key:{}", row.api_key_id),
                at: row.first_seen_at,
                count: 1,
                network: Some(row.network.clone()),
                event_id: String::new(),
                facts,
                ..Observation::default()
            }];
            for rule in &rules {
                let age_ms = rule
                    .min_key_age_hours
                    .unwrap_or(0)
                    .saturating_mul(3_600_000);
                if row.first_seen_at - row.key_created_at < age_ms {
                    // A key still being rolled out is expected to appear in new places.
                    continue;
                }
                if let Some(alert) = tracks
                    .observe_all(&mut tx.tx, AnomalyKind::NewNetwork, rule, &seen)
                    .await?
                {
                    alerts.push(alert);
                }
            }
        }
        tracks.save(&mut tx.tx).await?;
        for alert in &alerts {
            audit::append(&mut tx.tx, &app.clock, alert).await?;
        }
        tx.commit().await?;
        raised += alerts.len();
    }
    Ok(raised)
}

/// Deletes incidents closed for 30 days, and observations that opened no incident and are
/// older than the longest window.
async fn purge(app: &App) -> Result<(), sqlx::Error> {
    let now = app.clock.now_ms();
    let mut tx = app.db.begin_write().await?;
    sqlx::query(
        "DELETE FROM anomaly_incidents WHERE last_at < $1 \
         OR (alerted_at IS NULL AND last_at < $2)",
    )
    .bind(now - CLOSED_RETENTION_MS)
    .bind(now - DAY_MS)
    .execute(&mut *tx.tx)
    .await?;
    tx.commit().await
}
