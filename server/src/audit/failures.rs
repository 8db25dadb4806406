//! Failed authentications, aggregated: a flood costs a few audit events, not one per request.
//!
//! Failures are grouped into windows by *kind*: workspace, key id (of a known key only: an
//! unknown key id is the attacker's choice), reason and client network (/24 or /64). The first
//! failure of a kind is an event of its own, stored before the request is answered. Repeats
//! only bump counters (no allocation, no I/O) and are stored as one event per window and flush
//! (every second, and at shutdown) with `count`, `first_at` and `last_at`. A window idle for a
//! minute is closed; the next failure of its kind is a first again.
//!
//! The table is bounded: past [`MAX_WINDOWS`] kinds, or past [`MAX_NETWORKS_PER_KIND`] networks
//! for one workspace, key id and reason (an IPv6 client has networks to spare), new kinds are
//! aggregated coarsely, by workspace and reason alone (`client_network: "*"`,
//! `coarsened: true`), whose number is bounded by the workspaces that exist.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde_json::json;

use super::EventType;
use super::{Actor, NewEvent, Outcome, SYSTEM_CHAIN};
use crate::platform::clock::rfc3339;
use crate::platform::network::ClientNetwork;

/// Fine-grained windows kept at once; new kinds beyond this are aggregated coarsely.
pub const MAX_WINDOWS: usize = 4096;
/// Client networks with a window of their own for one workspace, key id and reason.
pub const MAX_NETWORKS_PER_KIND: usize = 64;
/// A window with no failure for this long is closed.
const WINDOW_IDLE_MS: i64 = 60_000;

/// Longest stored request data, in characters: enough to recognise a request, too little to
/// store a payload.
const MAX_METHOD: usize = 16;
const MAX_ROUTE: usize = 128;
const MAX_PATH: usize = 256;
const MAX_USER_AGENT: usize = 256;

/// One failed authentication as the request knows it. Borrowed, so that recording a repeat
/// allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct Failure<'a> {
    /// The known key's workspace, or [`SYSTEM_CHAIN`].
    pub workspace_id: &'a str,
    /// The presented key id, if one could be read.
    pub key_id: Option<&'a str>,
    pub target: Option<(&'static str, &'a str)>,
    pub reason: &'a str,
    pub network: ClientNetwork,
    pub source_ip: Option<IpAddr>,
    pub method: &'a str,
    /// The matched route template, or `unmatched`.
    pub route: &'a str,
    /// The raw path (never the query string, which may hold a credential).
    pub path: &'a str,
    pub user_agent: Option<&'a str>,
}

impl Failure<'_> {
    /// The key id that is part of the kind: only a known key's.
    fn kind_key_id(&self) -> Option<&str> {
        self.key_id.filter(|_| self.workspace_id != SYSTEM_CHAIN)
    }
}

/// What makes two failures "the same": kept whole so a hash collision is never a repeat.
#[derive(Debug)]
struct Kind {
    workspace_id: String,
    key_id: Option<String>,
    reason: String,
    /// `None`: a coarse window, every network.
    network: Option<ClientNetwork>,
}

impl Kind {
    fn is(&self, f: &Failure<'_>, network: Option<ClientNetwork>) -> bool {
        self.workspace_id == f.workspace_id
            && self.reason == f.reason
            && self.network == network
            && (network.is_none() || self.key_id.as_deref() == f.kind_key_id())
    }
}

/// The first request of a window, truncated: what its events show about the requests.
#[derive(Debug)]
struct Sample {
    key_id: Option<String>,
    target: Option<(&'static str, String)>,
    source_ip: Option<IpAddr>,
    method: String,
    route: String,
    path: String,
    user_agent: Option<String>,
}

#[derive(Debug)]
struct Window {
    kind: Kind,
    /// For a fine window, the hash of its kind without the network (see `FailureWindows::crowds`).
    crowd: Option<u64>,
    sample: Sample,
    /// Repeats not stored yet, and when the first and last of them happened (ms).
    pending: AtomicU64,
    pending_first_ms: AtomicI64,
    last_ms: AtomicI64,
}

impl Window {
    fn repeat(&self, now: i64) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        // Loads first: under a flood, these lines are written at most once a millisecond.
        if self.pending_first_ms.load(Ordering::Relaxed) == i64::MAX {
            let _ = self.pending_first_ms.compare_exchange(
                i64::MAX,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        if self.last_ms.load(Ordering::Relaxed) < now {
            self.last_ms.fetch_max(now, Ordering::Relaxed);
        }
    }

    fn event(&self, count: u64, first_ms: i64, last_ms: i64, aggregated: bool) -> NewEvent {
        let s = &self.sample;
        NewEvent {
            workspace_id: self.kind.workspace_id.clone(),
            event_type: EventType::AuthFailed,
            actor: Actor::Anonymous,
            target: s.target.clone(),
            outcome: Outcome::Failure,
            reason: Some(self.kind.reason.clone()),
            details: json!({
                "key_id": s.key_id,
                "client_network": self.kind.network.map_or_else(|| "*".to_owned(), |n| n.to_string()),
                "source_ip": s.source_ip.map(|ip| ip.to_string()),
                "method": s.method,
                "route": s.route,
                "path": s.path,
                "user_agent": s.user_agent,
                "count": count,
                "first_at": rfc3339(first_ms),
                "last_at": rfc3339(last_ms),
                "aggregated": aggregated,
                "coarsened": self.kind.network.is_none(),
            }),
        }
    }
}

/// The open windows, by a keyed hash of their kind.
#[derive(Debug, Default)]
pub struct FailureWindows {
    windows: dashmap::DashMap<u64, Window, foldhash::fast::RandomState>,
    /// How many fine windows each workspace, key id and reason has (one per network).
    crowds: dashmap::DashMap<u64, usize, foldhash::fast::RandomState>,
    /// Seeded per process: clients cannot aim collisions.
    hasher: foldhash::quality::RandomState,
}

impl FailureWindows {
    fn hash(&self, f: &Failure<'_>, network: Option<ClientNetwork>) -> u64 {
        let mut h = self.hasher.build_hasher();
        f.workspace_id.hash(&mut h);
        f.reason.hash(&mut h);
        network.hash(&mut h);
        network.and(f.kind_key_id()).hash(&mut h);
        h.finish()
    }

    fn crowd_hash(&self, f: &Failure<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        f.workspace_id.hash(&mut h);
        f.reason.hash(&mut h);
        f.kind_key_id().hash(&mut h);
        h.finish()
    }

    /// Counts a failure. Returns the event to store at once when it opens a window.
    pub fn record(&self, f: &Failure<'_>, now: i64) -> Option<NewEvent> {
        let fine = self.hash(f, Some(f.network));
        if let Some(window) = self.windows.get(&fine) {
            if window.kind.is(f, Some(f.network)) {
                window.repeat(now);
                return None;
            }
        }
        let crowd = self.crowd_hash(f);
        let crowded = self.windows.len() >= MAX_WINDOWS
            || self
                .crowds
                .get(&crowd)
                .is_some_and(|n| *n >= MAX_NETWORKS_PER_KIND);
        let network = (!crowded).then_some(f.network);
        let hash = if network.is_some() {
            fine
        } else {
            self.hash(f, None)
        };
        match self.windows.entry(hash) {
            dashmap::Entry::Occupied(window) => {
                if window.get().kind.is(f, network) {
                    window.get().repeat(now);
                    return None;
                }
                // Two kinds under one 64-bit keyed hash: store this one unaggregated.
                Some(new_window(f, network, None, now).event(1, now, now, false))
            }
            dashmap::Entry::Vacant(slot) => {
                let crowd = network.map(|_| crowd);
                let window = new_window(f, network, crowd, now);
                let first = window.event(1, now, now, false);
                if let Some(crowd) = crowd {
                    *self.crowds.entry(crowd).or_default() += 1;
                }
                slot.insert(window);
                Some(first)
            }
        }
    }

    /// The repeats counted since the last call, one event per window, and closes windows idle
    /// for a minute.
    pub fn drain(&self, now: i64) -> Vec<NewEvent> {
        let mut events = vec![];
        for window in &self.windows {
            let first = window.pending_first_ms.swap(i64::MAX, Ordering::Relaxed);
            let count = window.pending.swap(0, Ordering::Relaxed);
            if count > 0 {
                let last = window.last_ms.load(Ordering::Relaxed);
                events.push(window.event(count, first.min(last), last, true));
            }
        }
        // Under the shard write lock: a repeat cannot slip into a window as it is closed.
        self.windows.retain(|_, w| {
            let open = w.pending.load(Ordering::Relaxed) > 0
                || now - w.last_ms.load(Ordering::Relaxed) < WINDOW_IDLE_MS;
            if let (false, Some(crowd)) = (open, w.crowd) {
                if let dashmap::Entry::Occupied(mut n) = self.crowds.entry(crowd) {
                    *n.get_mut() -= 1;
                    if *n.get() == 0 {
                        n.remove();
                    }
                }
            }
            open
        });
        events
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

fn new_window(
    f: &Failure<'_>,
    network: Option<ClientNetwork>,
    crowd: Option<u64>,
    now: i64,
) -> Window {
    Window {
        crowd,
        kind: Kind {
            workspace_id: f.workspace_id.to_owned(),
            key_id: network.and(f.kind_key_id()).map(str::to_owned),
            reason: truncated(f.reason, MAX_ROUTE).to_owned(),
            network,
        },
        sample: Sample {
            key_id: network.and(f.key_id).map(str::to_owned),
            target: network.and(f.target.map(|(kind, id)| (kind, id.to_owned()))),
            source_ip: network.and(f.source_ip),
            method: truncated(f.method, MAX_METHOD).to_owned(),
            route: truncated(f.route, MAX_ROUTE).to_owned(),
            path: truncated(f.path, MAX_PATH).to_owned(),
            user_agent: f
                .user_agent
                .map(|ua| truncated(ua, MAX_USER_AGENT).to_owned()),
        },
        pending: AtomicU64::new(0),
        pending_first_ms: AtomicI64::new(i64::MAX),
        last_ms: AtomicI64::new(now),
    }
}

/// At most `max` characters of `s`.
pub fn truncated(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure<'a>(reason: &'a str, ip: &str, key_id: Option<&'a str>) -> Failure<'a> {
        let ip: IpAddr = ip.parse().unwrap();
        Failure {
            workspace_id: if key_id.is_some() {
                "ws_1"
            } else {
                SYSTEM_CHAIN
            },
            key_id,
            target: None,
            reason,
            network: ClientNetwork::of(ip),
            source_ip: Some(ip),
            method: "GET",
            route: "/v1/auth/verify",
            path: "/v1/auth/verify",
            user_agent: None,
        }
    }

    #[test]
    fn the_first_failure_of_a_kind_is_an_event_and_repeats_become_one_counted_event() {
        let windows = FailureWindows::default();
        let a = failure("wrong_secret", "203.0.113.1", Some("kid"));
        assert!(
            windows.record(&a, 1_000).is_some(),
            "the first is stored at once"
        );
        for t in 0..1000 {
            // Another host of the same /24 is the same kind.
            let b = failure("wrong_secret", "203.0.113.99", Some("kid"));
            assert!(windows.record(&b, 1_001 + t).is_none());
        }
        assert!(windows
            .record(&failure("wrong_secret", "198.51.100.1", Some("kid")), 3_000)
            .is_some());
        assert!(windows
            .record(&failure("revoked", "203.0.113.1", Some("kid")), 3_000)
            .is_some());
        let events = windows.drain(3_000);
        assert_eq!(events.len(), 1);
        let d = &events[0].details;
        assert_eq!(
            (d["count"].as_u64(), d["aggregated"].as_bool()),
            (Some(1000), Some(true))
        );
        assert_eq!(d["first_at"], rfc3339(1_001));
        assert_eq!(d["last_at"], rfc3339(2_000));
        assert_eq!(d["client_network"], "203.0.113.0/24");
        assert!(windows.drain(3_000).is_empty(), "nothing new to store");
        windows.drain(3_000 + WINDOW_IDLE_MS);
        assert!(windows.is_empty(), "idle windows close");
        assert!(
            windows.record(&a, 70_000).is_some(),
            "and the next is a first"
        );
    }

    #[test]
    fn unknown_key_ids_do_not_open_windows_of_their_own() {
        let windows = FailureWindows::default();
        let ids: Vec<String> = (0..100).map(|i| format!("unknown{i:09}")).collect();
        let firsts = ids
            .iter()
            .filter(|id| {
                windows
                    .record(
                        &Failure {
                            workspace_id: SYSTEM_CHAIN,
                            ..failure("unknown_key", "203.0.113.1", Some(id))
                        },
                        1,
                    )
                    .is_some()
            })
            .count();
        assert_eq!(firsts, 1);
    }

    #[test]
    fn the_table_is_bounded_and_new_kinds_beyond_it_are_aggregated_coarsely() {
        let windows = FailureWindows::default();
        let mut firsts = 0;
        // Many keys, each from fewer networks than its own allowance: the table fills first.
        let key_ids: Vec<String> = (0..100).map(|k| format!("kid{k}")).collect();
        for i in 0..(u32::try_from(MAX_WINDOWS).unwrap() + 5000) {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)).to_string();
            let key_id = Some(key_ids[i as usize % key_ids.len()].as_str());
            firsts += usize::from(
                windows
                    .record(&failure("wrong_secret", &ip, key_id), 1)
                    .is_some(),
            );
        }
        assert_eq!(windows.len(), MAX_WINDOWS + 1);
        assert_eq!(firsts, MAX_WINDOWS + 1);
        let coarse = windows
            .drain(2)
            .into_iter()
            .find(|e| e.details["coarsened"] == true)
            .unwrap();
        assert_eq!(coarse.details["count"], 4999);
        assert_eq!(coarse.details["client_network"], "*");
    }

    #[test]
    fn a_client_with_networks_to_spare_gets_a_bounded_number_of_windows_for_one_key() {
        let windows = FailureWindows::default();
        let mut firsts = 0;
        for i in 0..1000u128 {
            let ip = std::net::Ipv6Addr::from((0x2001_0db8_u128 << 96) + (i << 64)).to_string();
            let guess = failure("wrong_secret", &ip, Some("kid"));
            firsts += usize::from(windows.record(&guess, 1).is_some());
            // Another key id is another kind, with its own allowance.
            if i == 999 {
                assert!(windows
                    .record(&failure("wrong_secret", &ip, Some("other")), 1)
                    .is_some());
            }
        }
        assert_eq!(
            firsts,
            MAX_NETWORKS_PER_KIND + 1,
            "64 networks, then one coarse window"
        );
        let events = windows.drain(2);
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].details["count"],
            1000 - MAX_NETWORKS_PER_KIND as u64 - 1
        );
        // Closing windows frees their places.
        windows.drain(2 + WINDOW_IDLE_MS);
        assert!(windows.is_empty() && windows.crowds.is_empty());
    }

    #[test]
    fn stored_request_data_is_truncated() {
        let windows = FailureWindows::default();
        let long = "/x".repeat(40_000);
        let method = "M".repeat(4000);
        let first = windows
            .record(
                &Failure {
                    path: &long,
                    method: &method,
                    user_agent: Some(&long),
                    ..failure("credential_in_query", "203.0.113.1", None)
                },
                1,
            )
            .unwrap();
        assert_eq!(first.details["path"].as_str().unwrap().len(), MAX_PATH);
        assert_eq!(first.details["method"].as_str().unwrap().len(), MAX_METHOD);
        assert_eq!(
            first.details["user_agent"].as_str().unwrap().len(),
            MAX_USER_AGENT
        );
        assert_eq!(truncated("éé", 1), "é");
    }
}
