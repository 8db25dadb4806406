//! Proving the audit log complete: one [`ChainVerifier`] walks events in chain order, whether
//! they come from the database (`GET /v1/audit-events/verify`, `statuspulse-server audit verify
//! --database-url`) or from an export file (`GET /v1/audit-events/export`, `… --file`), so an
//! auditor's offline check and the server's check cannot disagree.
//!
//! Checks, per event and in this order: its `seq` follows the previous one (else a gap or a
//! reordering), its `prev_hash` is the previous event's `hash`, and its `hash` recomputes. Only
//! the first break is reported: after it, every later link is suspect anyway. The database
//! also knows the chain's head, so events removed from its end are caught there; a file can
//! only be compared with the head by hand (the report prints the last hash).

use std::fmt;
use std::io::BufRead;

use super::{ChainReport, StoredEvent, GENESIS_HASH, SYSTEM_CHAIN};
use statuspulse_api::v1::AuditEvent;

/// Why a chain is broken at a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Break {
    /// The event at this position is missing: the next one has seq `found`.
    Gap { found: i64 },
    /// The event at this position comes after seq `after` (moved, or there twice).
    Reordered { after: i64 },
    /// The event's `prev_hash` is not the previous event's `hash`.
    PrevHashMismatch,
    /// The event's stored `hash` does not recompute: it was edited.
    HashMismatch,
    /// The chain's head is at `head_seq`: events were removed from the end.
    Truncated { head_seq: i64 },
    /// An export line that is not an audit event (line number, parse error).
    Unreadable { line: u64, error: String },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Gap { found } => write!(f, "gap in seq: missing, the next event is seq {found}"),
            Break::Reordered { after } => write!(f, "reordered: it comes after seq {after}"),
            Break::PrevHashMismatch => f.write_str("prev_hash mismatch: not the previous hash"),
            Break::HashMismatch => f.write_str("hash mismatch: the event was changed"),
            Break::Truncated { head_seq } => {
                write!(f, "missing: the chain's head is at seq {head_seq}")
            }
            Break::Unreadable { line, error } => {
                write!(f, "line {line} is not an audit event: {error}")
            }
        }
    }
}

/// Walks one workspace's chain, event by event, in the order they are given.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    pub workspace_id: String,
    /// Events looked at.
    pub events_checked: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The first broken position and why.
    pub broken: Option<(i64, Break)>,
    /// What the next event must carry; `None` until the first event of an export that may
    /// start mid-chain.
    expected: Option<(i64, String)>,
}

impl ChainVerifier {
    /// A chain that must start at seq 1 on the genesis hash (the database's).
    pub fn from_genesis(workspace_id: &str) -> Self {
        Self::from_anchor(workspace_id, 0, GENESIS_HASH)
    }

    /// A stored chain whose events up to `seq` were pruned by retention: it must go on at
    /// `seq + 1` from `hash`, the last pruned event's (genesis when nothing was pruned).
    pub fn from_anchor(workspace_id: &str, seq: i64, hash: &str) -> Self {
        Self {
            expected: Some((seq + 1, hash.to_owned())),
            ..Self::from_first_event(workspace_id)
        }
    }

    /// A chain that may start anywhere (an export with `from_seq`): the first event's
    /// `prev_hash` is trusted, every later link is checked. Seq 1 must still be on genesis.
    pub fn from_first_event(workspace_id: &str) -> Self {
        Self {
            workspace_id: workspace_id.to_owned(),
            events_checked: 0,
            first_seq: None,
            last_seq: None,
            broken: None,
            expected: None,
        }
    }

    /// The seq the next event must have.
    pub fn next_seq(&self) -> Option<i64> {
        self.expected.as_ref().map(|(seq, _)| *seq)
    }

    /// The hash of the last event checked (the genesis hash before any).
    pub fn last_hash(&self) -> &str {
        self.expected
            .as_ref()
            .map_or(GENESIS_HASH, |(_, hash)| hash.as_str())
    }

    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }

    /// Checks one event against the chain so far.
    pub fn check(&mut self, event: &StoredEvent) {
        self.events_checked += 1;
        self.first_seq.get_or_insert(event.seq);
        self.last_seq = Some(event.seq);
        let (seq, prev) = match self.expected.take() {
            Some(expected) => expected,
            None if event.seq == 1 => (1, GENESIS_HASH.to_owned()),
            None => (event.seq, event.prev_hash.clone()),
        };
        let found = if event.seq > seq {
            Some((seq, Break::Gap { found: event.seq }))
        } else if event.seq < seq {
            Some((event.seq, Break::Reordered { after: seq - 1 }))
        } else if event.prev_hash != prev {
            Some((seq, Break::PrevHashMismatch))
        } else if event.recomputed_hash().ok().as_deref() != Some(event.hash.as_str()) {
            Some((seq, Break::HashMismatch))
        } else {
            None
        };
        match &self.broken {
            None => self.broken = found,
            // The missing event turns up right after the gap: two events were swapped.
            Some((missing, Break::Gap { found: later })) if event.seq == *missing => {
                self.broken = Some((*missing, Break::Reordered { after: *later }));
            }
            Some(_) => {}
        }
        self.expected = Some((event.seq + 1, event.hash.clone()));
    }

    /// Marks an unreadable export line as the break (when nothing broke before it).
    pub fn unreadable(&mut self, line: u64, error: String) {
        if self.broken.is_none() {
            let at = self.next_seq().unwrap_or(0);
            self.broken = Some((at, Break::Unreadable { line, error }));
        }
    }

    /// Compares the end of the walk with the chain's head as the database remembers it.
    pub fn check_head(&mut self, head_seq: i64, head_hash: &str) {
        let end = self.next_seq().unwrap_or(1) - 1;
        if self.broken.is_none() && (end != head_seq || self.last_hash() != head_hash) {
            self.broken = Some((end + 1, Break::Truncated { head_seq }));
        }
    }

    /// One line for people: workspace, events, seq range, OK or the first break.
    pub fn summary(&self) -> String {
        let name = if self.workspace_id == SYSTEM_CHAIN {
            "(system chain)"
        } else {
            &self.workspace_id
        };
        let checked = match (self.first_seq, self.last_seq) {
            (Some(first), Some(last)) => {
                format!("{} events, seq {first}..{last}", self.events_checked)
            }
            _ => "no events".to_owned(),
        };
        match &self.broken {
            None => format!("{name}: {checked}: OK (last hash {})", self.last_hash()),
            Some((seq, why)) => format!("{name}: {checked}: BROKEN at seq {seq}: {why}"),
        }
    }
}

/// Recomputes every hash of a workspace's stored chain, in pages, and checks the head.
pub async fn verify_stored_chain(
    pool: &sqlx::AnyPool,
    workspace_id: &str,
) -> Result<(ChainVerifier, i64, String), sqlx::Error> {
    const PAGE: i64 = 1000;
    let anchor: Option<(i64, String)> = sqlx::query_as(
        "SELECT pruned_seq, pruned_hash FROM audit_chain_heads WHERE workspace_id = $1",
    )
    .bind(workspace_id)
    .fetch_optional(pool)
    .await?;
    let (pruned_seq, pruned_hash) = anchor.unwrap_or((0, GENESIS_HASH.to_owned()));
    let mut chain = ChainVerifier::from_anchor(workspace_id, pruned_seq, &pruned_hash);
    let mut from = pruned_seq + 1;
    loop {
        let page: Vec<StoredEvent> = sqlx::query_as(
            "SELECT * FROM audit_events WHERE workspace_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let done = i64::try_from(page.len()).is_ok_and(|n| n < PAGE);
        for event in &page {
            chain.check(event);
            from = event.seq + 1;
        }
        if done || !chain.is_intact() {
            break;
        }
    }
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_chain_heads WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_optional(pool)
            .await?;
    let (head_seq, head_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
    chain.check_head(head_seq, &head_hash);
    Ok((chain, head_seq, head_hash))
}

/// The report of `GET /v1/audit-events/verify`.
pub async fn verify_chain(
    pool: &sqlx::AnyPool,
    workspace_id: &str,
) -> Result<ChainReport, sqlx::Error> {
    let (chain, head_seq, head_hash) = verify_stored_chain(pool, workspace_id).await?;
    Ok(ChainReport {
        valid: chain.is_intact(),
        events_checked: chain.events_checked,
        head_seq,
        head_hash,
        first_broken_seq: chain.broken.map(|(seq, _)| seq),
    })
}

/// Verifies every stored chain (or only `workspace_id`'s), each from genesis to its head.
pub async fn verify_database(
    pool: &sqlx::AnyPool,
    workspace_id: Option<&str>,
) -> Result<Vec<ChainVerifier>, sqlx::Error> {
    let workspaces: Vec<String> = match workspace_id {
        Some(ws) => vec![ws.to_owned()],
        None => {
            sqlx::query_scalar(
                "SELECT workspace_id FROM audit_chain_heads \
             UNION SELECT DISTINCT workspace_id FROM audit_events ORDER BY 1",
            )
            .fetch_all(pool)
            .await?
        }
    };
    let mut chains = Vec::with_capacity(workspaces.len());
    for ws in workspaces {
        chains.push(verify_stored_chain(pool, &ws).await?.0);
    }
    Ok(chains)
}

/// Verifies an export (JSONL, one `AuditEvent` a line) without a database: one chain per
/// workspace in the file, in order of first appearance; `workspace_id` keeps only one.
pub fn verify_export(
    reader: impl BufRead,
    workspace_id: Option<&str>,
) -> std::io::Result<Vec<ChainVerifier>> {
    let mut chains: Vec<ChainVerifier> = Vec::new();
    for (number, line) in (1u64..).zip(reader.lines()) {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event = serde_json::from_str::<AuditEvent>(&line)
            .map_err(|e| e.to_string())
            .and_then(|event| StoredEvent::try_from(event).map_err(|e| e.to_string()));
        let ws = match &event {
            Ok(event) => event.workspace_id.as_str(),
            // An unreadable line breaks the chain it sits in: the last one seen.
            Err(_) => chains.last().map_or("", |c| c.workspace_id.as_str()),
        };
        if workspace_id.is_some_and(|only| only != ws) {
            continue;
        }
        let index = match chains.iter().position(|c| c.workspace_id == ws) {
            Some(index) => index,
            None => {
                chains.push(ChainVerifier::from_first_event(ws));
                chains.len() - 1
            }
        };
        match event {
            Ok(event) => chains[index].check(&event),
            Err(error) => chains[index].unreadable(number, error),
        }
    }
    Ok(chains)
}

/// An export line read back: what the hash covers, exactly as the server stored it.
impl TryFrom<AuditEvent> for StoredEvent {
    type Error = time::error::Parse;

    fn try_from(e: AuditEvent) -> Result<Self, Self::Error> {
        let occurred_at = time::OffsetDateTime::parse(
            &e.occurred_at,
            &time::format_description::well_known::Rfc3339,
        )?;
        let (target_type, target_id) = e.target.map(|t| (t.kind, t.id)).unzip();
        Ok(Self {
            event_id: e.event_id,
            workspace_id: e.workspace_id,
            seq: e.seq,
            occurred_at: crate::platform::clock::to_ms(occurred_at),
            event_type: e.event_type,
            actor_type: e.actor.kind,
            actor_id: e.actor.id,
            target_type,
            target_id,
            outcome: e.outcome,
            reason: e.reason,
            // Stored as `Value::to_string()` when appended; parsing and printing it again
            // gives the same text (the round trip is tested below).
            details: e.details.to_string(),
            prev_hash: e.prev_hash,
            hash: e.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Canonical;

    fn chain(n: i64) -> Vec<StoredEvent> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let details = serde_json::json!({
                    "name": format!("sa-{seq}"), "ratio": 0.1 + seq as f64, "é": [1, {"z": null, "a": true}]
                })
                .to_string();
                let occurred_at = 1_790_000_000_123 + seq * 1001;
                let event_id = format!("evt_{seq}");
                let hash = crate::audit::chain_hash(
                    &prev,
                    &Canonical {
                        event_id: &event_id,
                        workspace_id: "ws_1",
                        seq,
                        occurred_at,
                        event_type: "service_account.created",
                        actor_type: "api_key",
                        actor_id: Some("kid"),
                        target_type: Some("service_account"),
                        target_id: Some("sa_1"),
                        outcome: "success",
                        reason: None,
                        details: &details,
                    },
                )
                .unwrap();
                let event = StoredEvent {
                    event_id,
                    workspace_id: "ws_1".into(),
                    seq,
                    occurred_at,
                    event_type: "service_account.created".into(),
                    actor_type: "api_key".into(),
                    actor_id: Some("kid".into()),
                    target_type: Some("service_account".into()),
                    target_id: Some("sa_1".into()),
                    outcome: "success".into(),
                    reason: None,
                    details,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                event
            })
            .collect()
    }

    fn export(events: Vec<StoredEvent>) -> String {
        events
            .into_iter()
            .map(|e| serde_json::to_string(&AuditEvent::from(e)).unwrap() + "\n")
            .collect()
    }

    fn verdict(file: &str) -> Option<(i64, Break)> {
        let chains = verify_export(file.as_bytes(), None).unwrap();
        assert_eq!(chains.len(), 1);
        chains[0].broken.clone()
    }

    #[test]
    fn an_exported_event_reads_back_to_exactly_what_was_hashed() {
        for event in chain(3) {
            let hash = event.hash.clone();
            let back = StoredEvent::try_from(AuditEvent::from(event)).unwrap();
            assert_eq!(back.recomputed_hash().unwrap(), hash);
        }
        assert_eq!(verdict(&export(chain(5))), None);
    }

    #[test]
    fn details_print_back_to_the_stored_text_whatever_their_floats() {
        // Stored text is `Value::to_string()`; the export parses and prints it again.
        for i in 0..20_000 {
            let stored =
                serde_json::json!({"ratio": f64::from(i) / 7.0, "tiny": f64::from(i) * 1e-300})
                    .to_string();
            let again = serde_json::from_str::<serde_json::Value>(&stored)
                .unwrap()
                .to_string();
            assert_eq!(again, stored);
        }
    }

    #[test]
    fn an_export_from_mid_chain_verifies_from_its_first_prev_hash() {
        let events: Vec<_> = chain(5).into_iter().skip(2).collect();
        let chains = verify_export(export(events).as_bytes(), None).unwrap();
        assert_eq!(
            (
                chains[0].first_seq,
                chains[0].last_seq,
                chains[0].is_intact()
            ),
            (Some(3), Some(5), true)
        );
    }

    #[test]
    fn each_kind_of_tampering_is_named_at_its_position() {
        let mut events = chain(5);
        events[3].details = r#"{"name":"forged"}"#.into();
        assert_eq!(verdict(&export(events)), Some((4, Break::HashMismatch)));

        let mut events = chain(5);
        events.remove(2);
        assert_eq!(verdict(&export(events)), Some((3, Break::Gap { found: 4 })));

        let mut events = chain(5);
        events.swap(2, 3);
        assert_eq!(
            verdict(&export(events)),
            Some((3, Break::Reordered { after: 4 }))
        );

        let mut events = chain(5);
        events[1].prev_hash = GENESIS_HASH.into();
        assert_eq!(verdict(&export(events)), Some((2, Break::PrevHashMismatch)));

        let mut file = export(chain(3));
        file.insert_str(0, "{not json\n");
        assert!(matches!(
            verify_export(file.as_bytes(), None).unwrap()[0].broken,
            Some((0, Break::Unreadable { line: 1, .. }))
        ));
    }

    #[test]
    fn a_chain_cut_short_of_its_head_is_broken() {
        let mut chain_check = ChainVerifier::from_genesis("ws_1");
        let events = chain(3);
        for event in &events[..2] {
            chain_check.check(event);
        }
        chain_check.check_head(3, &events[2].hash);
        assert_eq!(
            chain_check.broken,
            Some((3, Break::Truncated { head_seq: 3 }))
        );

        let mut emptied = ChainVerifier::from_genesis("ws_1");
        emptied.check_head(3, &events[2].hash);
        assert_eq!(
            emptied.summary(),
            "ws_1: no events: BROKEN at seq 1: missing: the chain's head is at seq 3"
        );
    }
}
