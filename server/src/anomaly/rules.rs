//! What each rule kind sees in an audit event, and when a subject's observations make an
//! incident. Pure functions over parsed events and a subject's [`Track`], so the logic is tested
//! without a database.
//!
//! A rule watches *subjects* (a key, a service account, a session, a client network, ...). Each
//! relevant event is an [`Observation`] of one or more subjects. A subject's [`Track`] keeps
//! what happened within the rule's window (bounded lists). When the track meets the rule, an
//! incident opens and one alert is raised; the incident stays open while observations keep
//! coming within the window, and the next alert needs a new incident, after the subject was
//! quiet for the whole window.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use statuspulse_api::v1::AnomalyKind;

/// Samples of a count kept per track; older ones are merged into their successor.
const MAX_SAMPLES: usize = 64;
/// Regions and networks kept per track (the most recent).
const MAX_PLACES: usize = 16;
/// Event ids kept per track as evidence (the most recent).
const MAX_EVENT_IDS: usize = 10;

/// An enabled rule, as the detector reads it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub threshold: Option<i64>,
    pub window_minutes: i64,
    pub min_key_age_hours: Option<i64>,
}

impl Rule {
    pub fn kind(&self) -> Option<AnomalyKind> {
        AnomalyKind::parse(&self.kind)
    }

    pub fn window_ms(&self) -> i64 {
        self.window_minutes.saturating_mul(60_000)
    }
}

/// An audit event as the rules read it.
#[derive(Debug, sqlx::FromRow)]
pub struct SeenEvent {
    pub seq: i64,
    pub event_id: String,
    pub occurred_at: i64,
    pub event_type: String,
    pub target_id: Option<String>,
    pub reason: Option<String>,
    pub details: String,
}

/// One subject seen by one event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// `kind:id`, unique within the rule.
    pub subject: String,
    /// A rotation moves a key's lineage to its successor: the track follows it there.
    pub moves_to: Option<String>,
    pub at: i64,
    pub count: u64,
    pub region: Option<String>,
    pub network: Option<String>,
    pub event_id: String,
    /// What identifies the subject in the alert (key id, family, ...): never a secret.
    pub facts: Map<String, Value>,
}

fn text<'a>(details: &'a Value, field: &str) -> Option<&'a str> {
    details
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn facts(details: &Value, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| text(details, f).map(|v| ((*f).to_owned(), json!(v))))
        .collect()
}

/// Failure reasons that are no sign of anyone guessing: the key was valid but over its limit,
/// or the server could not check it.
const NOT_A_FAILED_AUTHENTICATION: &[&str] = &["rate_limited", "unavailable"];

/// The event types a kind reads; the detector parses the details of these only.
pub fn reads(kind: AnomalyKind, event_type: &str) -> bool {
    match kind {
        AnomalyKind::RapidRotation => event_type == "api_key.rotated",
        AnomalyKind::CrossRegionTokenExchange => matches!(
            event_type,
            "token.issued" | "token.refreshed" | "token.exchanged"
        ),
        AnomalyKind::FailedAuthBurst | AnomalyKind::RevokedKeyUse => event_type == "auth.failed",
        // Successful uses are not audit events: the detector reads `api_key_networks`.
        AnomalyKind::NewNetwork => false,
    }
}

/// The subjects `event` (whose `details` are parsed) is an observation of, for a rule of `kind`.
pub fn observations(kind: AnomalyKind, event: &SeenEvent, details: &Value) -> Vec<Observation> {
    let base = |subject: String, facts: Map<String, Value>| Observation {
        subject,
        at: event.occurred_at,
        count: 1,
        event_id: event.event_id.clone(),
        facts,
        ..Observation::default()
    };
    match (kind, event.event_type.as_str()) {
        (AnomalyKind::RapidRotation, "api_key.rotated") => {
            let Some(key) = event.target_id.as_deref() else {
                return vec![];
            };
            let mut facts = facts(
                details,
                &["key_id", "successor_key_id", "service_account_id"],
            );
            facts.insert("api_key_id".to_owned(), json!(key));
            match text(details, "service_account_id") {
                // All of a service account's keys count together (successors share it).
                Some(sa) => vec![base(format!("service_account:{sa}"), facts)],
                None => vec![Observation {
                    moves_to: text(details, "successor_id").map(|s| format!("api_key:{s}")),
                    ..base(format!("api_key:{key}"), facts)
                }],
            }
        }
        (AnomalyKind::CrossRegionTokenExchange, kind) => {
            let Some(region) = text(details, "region") else {
                return vec![];
            };
            let (subject, facts) = if kind == "token.exchanged" {
                let (Some(identity), Some(sub)) = (
                    text(details, "workload_identity_id"),
                    text(details, "subject"),
                ) else {
                    return vec![];
                };
                let mut facts = facts(details, &["workload_identity_id", "issuer"]);
                // `subject` is the incident's; the token's is the workload's.
                facts.insert("workload_subject".to_owned(), json!(sub));
                (format!("workload:{identity}:{sub}"), facts)
            } else {
                // A family belongs to one session: the session is the subject, so one theft
                // is one incident however many clients it touched.
                let subject = match (text(details, "session_id"), text(details, "family_id")) {
                    (Some(session), _) => format!("session:{session}"),
                    (None, Some(family)) => format!("family:{family}"),
                    (None, None) => return vec![],
                };
                let mut facts = facts(details, &["session_id", "family_id"]);
                if let Some(client) = event.target_id.as_deref() {
                    facts.insert("client_id".to_owned(), json!(client));
                }
                (subject, facts)
            };
            vec![Observation {
                region: Some(region.to_owned()),
                network: text(details, "source_ip").map(str::to_owned),
                ..base(subject, facts)
            }]
        }
        (AnomalyKind::FailedAuthBurst, "auth.failed") => {
            let reason = event.reason.as_deref().unwrap_or_default();
            if NOT_A_FAILED_AUTHENTICATION.contains(&reason) {
                return vec![];
            }
            let count = details.get("count").and_then(Value::as_u64).unwrap_or(1);
            let network = text(details, "client_network").filter(|n| *n != "*");
            let mut facts = facts(details, &["key_id", "client_network"]);
            facts.insert("reason".to_owned(), json!(reason));
            let mut seen = vec![];
            if let Some(key_id) = text(details, "key_id") {
                seen.push(format!("key_id:{key_id}"));
            }
            if let Some(network) = network {
                seen.push(format!("network:{network}"));
            }
            seen.into_iter()
                .map(|subject| Observation {
                    count,
                    network: network.map(str::to_owned),
                    ..base(subject, facts.clone())
                })
                .collect()
        }
        (AnomalyKind::RevokedKeyUse, "auth.failed") => {
            let Some(key_id) = text(details, "key_id") else {
                return vec![];
            };
            if event.reason.as_deref() != Some("revoked") {
                return vec![];
            }
            let mut facts = facts(details, &["key_id", "client_network"]);
            if let Some(key) = event.target_id.as_deref() {
                facts.insert("api_key_id".to_owned(), json!(key));
            }
            vec![Observation {
                count: details.get("count").and_then(Value::as_u64).unwrap_or(1),
                network: text(details, "client_network")
                    .filter(|n| *n != "*")
                    .map(str::to_owned),
                ..base(format!("key_id:{key_id}"), facts)
            }]
        }
        _ => vec![],
    }
}

/// What the detector remembers of one subject under one rule (stored as JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// `(time ms, count)` within the window, oldest first.
    samples: Vec<(i64, u64)>,
    /// Region → last time seen, within the window.
    regions: BTreeMap<String, i64>,
    /// Network or address → last time seen.
    networks: BTreeMap<String, i64>,
    /// The latest event ids.
    event_ids: Vec<String>,
    facts: Map<String, Value>,
    /// First and last observation of the open incident (or of the observations so far).
    pub first_at: i64,
    pub last_at: i64,
    /// Observations counted in the open incident.
    total: u64,
    /// When the open incident was alerted.
    pub alerted_at: Option<i64>,
}

fn keep_latest(map: &mut BTreeMap<String, i64>, max: usize) {
    while map.len() > max {
        let Some(oldest) = map.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) else {
            return;
        };
        map.remove(&oldest);
    }
}

impl Track {
    /// Adds `o` to the track. True when it opens an incident: the alert is due now.
    pub fn observe(&mut self, kind: AnomalyKind, rule: &Rule, o: &Observation) -> bool {
        let window = rule.window_ms();
        if self.last_at != 0 && o.at - self.last_at > window {
            // Quiet for the whole window: the incident (if any) is over.
            *self = Track::default();
        }
        if self.first_at == 0 {
            self.first_at = o.at;
        }
        self.last_at = self.last_at.max(o.at);
        self.total = self.total.saturating_add(o.count);
        let since = o.at - window;
        self.samples.push((o.at, o.count));
        self.samples.retain(|(t, _)| *t >= since);
        while self.samples.len() > MAX_SAMPLES {
            // Merged forward: the count is kept (a burst is never undercounted).
            let (_, n) = self.samples.remove(0);
            self.samples[0].1 = self.samples[0].1.saturating_add(n);
        }
        if let Some(region) = &o.region {
            self.regions.insert(region.clone(), o.at);
        }
        self.regions.retain(|_, t| *t >= since);
        keep_latest(&mut self.regions, MAX_PLACES);
        if let Some(network) = &o.network {
            self.networks.insert(network.clone(), o.at);
            keep_latest(&mut self.networks, MAX_PLACES);
        }
        self.event_ids.push(o.event_id.clone());
        if self.event_ids.len() > MAX_EVENT_IDS {
            self.event_ids.remove(0);
        }
        self.facts
            .extend(o.facts.iter().map(|(k, v)| (k.clone(), v.clone())));
        if self.alerted_at.is_some() {
            return false;
        }
        let in_window: u64 = self.samples.iter().map(|(_, n)| *n).sum();
        let fires = match kind {
            AnomalyKind::CrossRegionTokenExchange => self.regions.len() >= 2,
            AnomalyKind::RapidRotation | AnomalyKind::FailedAuthBurst => {
                in_window
                    >= rule
                        .threshold
                        .and_then(|t| u64::try_from(t).ok())
                        .unwrap_or(1)
            }
            AnomalyKind::RevokedKeyUse | AnomalyKind::NewNetwork => true,
        };
        if fires {
            self.alerted_at = Some(o.at);
        }
        fires
    }

    /// The evidence of the incident, for its `anomaly.detected` event.
    pub fn evidence(&self, rule: &Rule, subject: &str) -> Value {
        let rfc = crate::platform::clock::rfc3339;
        let mut evidence = Map::new();
        evidence.insert("rule_id".to_owned(), json!(rule.id));
        evidence.insert("rule_name".to_owned(), json!(rule.name));
        evidence.insert("kind".to_owned(), json!(rule.kind));
        evidence.insert("subject".to_owned(), json!(subject));
        evidence.insert("threshold".to_owned(), json!(rule.threshold));
        evidence.insert("window_minutes".to_owned(), json!(rule.window_minutes));
        evidence.insert(
            "count".to_owned(),
            json!(self.samples.iter().map(|(_, n)| *n).sum::<u64>()),
        );
        let first = self.samples.first().map_or(self.first_at, |s| s.0);
        evidence.insert("first_at".to_owned(), json!(rfc(first)));
        evidence.insert("last_at".to_owned(), json!(rfc(self.last_at)));
        evidence.insert(
            "regions".to_owned(),
            json!(self.regions.keys().collect::<Vec<_>>()),
        );
        evidence.insert(
            "networks".to_owned(),
            json!(self.networks.keys().collect::<Vec<_>>()),
        );
        evidence.insert("event_ids".to_owned(), json!(self.event_ids));
        for (k, v) in &self.facts {
            evidence.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn rule(kind: AnomalyKind) -> Rule {
        let d = kind.defaults();
        Rule {
            id: "anr_1".into(),
            name: "r".into(),
            kind: kind.as_str().into(),
            threshold: d.threshold,
            window_minutes: d.window_minutes,
            min_key_age_hours: d.min_key_age_hours,
        }
    }

    fn at(t: i64, count: u64, region: Option<&str>) -> Observation {
        Observation {
            subject: "s".into(),
            at: t,
            count,
            region: region.map(str::to_owned),
            event_id: format!("evt_{t}"),
            ..Observation::default()
        }
    }

    #[test]
    fn three_rotations_within_an_hour_open_one_incident_and_a_quarterly_rotation_none() {
        let kind = AnomalyKind::RapidRotation;
        let r = rule(kind);
        let mut quarterly = Track::default();
        for i in 1..=8 {
            assert!(!quarterly.observe(kind, &r, &at(i * 90 * 24 * 60 * MIN, 1, None)));
        }
        let mut rapid = Track::default();
        assert!(!rapid.observe(kind, &r, &at(MIN, 1, None)));
        assert!(!rapid.observe(kind, &r, &at(20 * MIN, 1, None)));
        assert!(rapid.observe(kind, &r, &at(40 * MIN, 1, None)), "fires");
        assert!(
            !rapid.observe(kind, &r, &at(90 * MIN, 1, None)),
            "same incident"
        );
        assert!(!rapid.observe(kind, &r, &at(140 * MIN, 1, None)), "still");
        // Quiet for an hour: over. Three more make a new incident.
        assert!(!rapid.observe(kind, &r, &at(300 * MIN, 1, None)));
        assert!(!rapid.observe(kind, &r, &at(301 * MIN, 1, None)));
        assert!(rapid.observe(kind, &r, &at(302 * MIN, 1, None)));
    }

    #[test]
    fn two_regions_fire_only_within_the_window() {
        let kind = AnomalyKind::CrossRegionTokenExchange;
        let r = rule(kind);
        let mut slow = Track::default();
        assert!(!slow.observe(kind, &r, &at(MIN, 1, Some("eu"))));
        assert!(!slow.observe(kind, &r, &at(MIN + 61 * MIN, 1, Some("us"))));
        let mut fast = Track::default();
        assert!(!fast.observe(kind, &r, &at(MIN, 1, Some("eu"))));
        assert!(!fast.observe(kind, &r, &at(2 * MIN, 1, Some("eu"))));
        assert!(fast.observe(kind, &r, &at(3 * MIN, 1, Some("us"))));
        let evidence = fast.evidence(&r, "session:ses_1");
        assert_eq!(evidence["regions"], json!(["eu", "us"]));
        assert_eq!(evidence["count"], 3);
    }

    fn event(event_type: &str, reason: Option<&str>) -> SeenEvent {
        SeenEvent {
            seq: 1,
            event_id: "evt_1".into(),
            occurred_at: 1_000,
            event_type: event_type.into(),
            target_id: Some("key_1".into()),
            reason: reason.map(str::to_owned),
            details: String::new(),
        }
    }

    #[test]
    fn exchanged_tokens_are_watched_per_workload_subject_and_no_region_is_no_observation() {
        let kind = AnomalyKind::CrossRegionTokenExchange;
        let exchanged = event("token.exchanged", None);
        let details = json!({"issuer": "https://ci.example", "subject": "repo:acme/app",
            "workload_identity_id": "wi_1", "region": "eu-west-1", "source_ip": "10.0.0.1"});
        let seen = observations(kind, &exchanged, &details);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].subject, "workload:wi_1:repo:acme/app");
        assert_eq!(seen[0].region.as_deref(), Some("eu-west-1"));
        assert_eq!(seen[0].facts["issuer"], "https://ci.example");
        assert_eq!(seen[0].facts["workload_subject"], "repo:acme/app");
        let nowhere =
            json!({"subject": "repo:acme/app", "workload_identity_id": "wi_1", "region": null});
        assert!(observations(kind, &exchanged, &nowhere).is_empty());
    }

    #[test]
    fn only_failures_that_are_guesses_count_and_only_revoked_keys_are_revoked_use() {
        let details = json!({"key_id": "kid", "client_network": "203.0.113.0/24", "count": 7});
        let burst = AnomalyKind::FailedAuthBurst;
        let wrong = observations(burst, &event("auth.failed", Some("wrong_secret")), &details);
        assert_eq!(
            wrong
                .iter()
                .map(|o| (o.subject.as_str(), o.count))
                .collect::<Vec<_>>(),
            [("key_id:kid", 7), ("network:203.0.113.0/24", 7)]
        );
        for reason in ["rate_limited", "unavailable"] {
            assert!(observations(burst, &event("auth.failed", Some(reason)), &details).is_empty());
        }
        let revoked = AnomalyKind::RevokedKeyUse;
        assert_eq!(
            observations(revoked, &event("auth.failed", Some("revoked")), &details).len(),
            1
        );
        assert!(observations(revoked, &event("auth.failed", Some("expired")), &details).is_empty());
    }

    #[test]
    fn aggregated_counts_add_up_and_state_stays_bounded() {
        let kind = AnomalyKind::FailedAuthBurst;
        let r = rule(kind);
        let mut track = Track::default();
        assert!(!track.observe(kind, &r, &at(1000, 1, None)));
        assert!(track.observe(kind, &r, &at(2000, 19, None)));
        for i in 0..10_000 {
            let mut o = at(3000 + i, 1, None);
            o.network = Some(format!("net{i}"));
            track.observe(kind, &r, &o);
        }
        assert!(track.samples.len() <= MAX_SAMPLES);
        assert!(track.networks.len() <= MAX_PLACES);
        assert!(track.event_ids.len() <= MAX_EVENT_IDS);
        assert_eq!(
            track.samples.iter().map(|s| s.1).sum::<u64>(),
            10_020,
            "merged, never lost"
        );
    }
}
