//! Prometheus metrics, held in the application state (no global registry), served at `/metrics`.
//!
//! Every label value comes from a closed set known when the server is built (`&'static str`, a
//! route template of the router, a status code), never from the request as sent: a client that
//! invents methods or paths must not be able to grow the series count, the memory or `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// One of [`method_label`]'s values.
    pub method: &'static str,
    /// The route template (`/v1/api-keys/{id}`) or `unmatched`, never the path as sent.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// The method as a label: the standard methods by name, anything else `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, label)| label)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub result: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    ])
}

/// Per audit sink: bounded by the sinks a workspace may have, and forgotten when a sink is
/// deleted ([`Metrics::set_sinks`]).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    pub sink_id: String,
}

pub struct Metrics {
    registry: Registry,
    audit_sink_deliveries: Family<SinkLabels, Counter>,
    audit_sink_failures: Family<SinkLabels, Counter>,
    audit_sink_lag: Family<SinkLabels, Gauge>,
    audit_sink_failing: Family<SinkLabels, Gauge>,
    /// The sinks the families above hold series for.
    known_sinks: std::sync::Mutex<std::collections::HashSet<String>>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub verifications: Family<OutcomeLabels, Counter>,
    pub key_cache: Family<CacheLabels, Counter>,
    pub argon2_waiting: Gauge,
    pub argon2_running: Gauge,
    pub argon2_seconds: Histogram,
    pub connections_open: Gauge,
    pub connections_refused: Counter,
    /// Handles to the hot-path series, resolved once: an increment is one atomic add.
    pub verified_ok: Counter,
    pub cache_hit: Counter,
    pub cache_miss: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("statuspulse");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let verifications = Family::<OutcomeLabels, Counter>::default();
        let key_cache = Family::<CacheLabels, Counter>::default();
        let argon2_waiting = Gauge::default();
        let argon2_running = Gauge::default();
        let argon2_seconds = latency_histogram();
        let connections_open = Gauge::default();
        let connections_refused = Counter::default();
        let audit_sink_deliveries = Family::<SinkLabels, Counter>::default();
        let audit_sink_failures = Family::<SinkLabels, Counter>::default();
        let audit_sink_lag = Family::<SinkLabels, Gauge>::default();
        let audit_sink_failing = Family::<SinkLabels, Gauge>::default();
        registry.register(
            "audit_sink_delivered_events",
            "Audit events accepted by each sink (from this replica)",
            audit_sink_deliveries.clone(),
        );
        registry.register(
            "audit_sink_failures",
            "Failed delivery attempts per sink (from this replica)",
            audit_sink_failures.clone(),
        );
        registry.register(
            "audit_sink_lag_events",
            "Events of the workspace chain a sink has not yet been delivered",
            audit_sink_lag.clone(),
        );
        registry.register(
            "audit_sink_failing",
            "1 while a sink has been failing for longer than the failing threshold",
            audit_sink_failing.clone(),
        );
        registry.register(
            "http_connections_open",
            "TCP connections being served",
            connections_open.clone(),
        );
        registry.register(
            "http_connections_refused",
            "Connections closed at accept because the connection limit was reached",
            connections_refused.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            request_seconds.clone(),
        );
        registry.register(
            "auth_verifications",
            "Credential verifications by outcome",
            verifications.clone(),
        );
        registry.register(
            "auth_key_cache_lookups",
            "Verified-key cache lookups (hit or miss); the hit ratio is hit / (hit + miss)",
            key_cache.clone(),
        );
        registry.register(
            "argon2_queue_waiting",
            "Argon2 verifications waiting for a slot",
            argon2_waiting.clone(),
        );
        registry.register(
            "argon2_running",
            "Argon2 verifications running",
            argon2_running.clone(),
        );
        registry.register(
            "argon2_duration_seconds",
            "Time spent in one Argon2 verification",
            argon2_seconds.clone(),
        );
        let verified_ok = verifications
            .get_or_create(&OutcomeLabels { outcome: "valid" })
            .clone();
        let cache_hit = key_cache
            .get_or_create(&CacheLabels { result: "hit" })
            .clone();
        let cache_miss = key_cache
            .get_or_create(&CacheLabels { result: "miss" })
            .clone();
        Self {
            registry,
            audit_sink_deliveries,
            audit_sink_failures,
            audit_sink_lag,
            audit_sink_failing,
            known_sinks: std::sync::Mutex::default(),
            requests,
            request_seconds,
            verifications,
            key_cache,
            argon2_waiting,
            argon2_running,
            argon2_seconds,
            connections_open,
            connections_refused,
            verified_ok,
            cache_hit,
            cache_miss,
        }
    }
}

impl Metrics {
    /// Counts events a sink accepted.
    pub fn sink_delivered(&self, sink_id: &str, events: u64) {
        self.remember_sink(sink_id);
        self.audit_sink_deliveries
            .get_or_create(&SinkLabels {
                sink_id: sink_id.to_owned(),
            })
            .inc_by(events);
    }

    /// Counts a failed delivery attempt.
    pub fn sink_failed(&self, sink_id: &str) {
        self.remember_sink(sink_id);
        self.audit_sink_failures
            .get_or_create(&SinkLabels {
                sink_id: sink_id.to_owned(),
            })
            .inc();
    }

    fn remember_sink(&self, sink_id: &str) {
        if let Ok(mut known) = self.known_sinks.lock() {
            if !known.contains(sink_id) {
                known.insert(sink_id.to_owned());
            }
        }
    }

    /// Sets each sink's lag and failing gauges; drops every series of sinks no longer listed.
    pub fn set_sinks(&self, sinks: impl Iterator<Item = (String, i64, bool)>) {
        let Ok(mut known) = self.known_sinks.lock() else {
            return;
        };
        let mut present = std::collections::HashSet::new();
        for (sink_id, lag, failing) in sinks {
            let labels = SinkLabels { sink_id };
            self.audit_sink_lag.get_or_create(&labels).set(lag);
            self.audit_sink_failing
                .get_or_create(&labels)
                .set(i64::from(failing));
            present.insert(labels.sink_id);
        }
        for gone in known.difference(&present) {
            let labels = SinkLabels {
                sink_id: gone.clone(),
            };
            self.audit_sink_lag.remove(&labels);
            self.audit_sink_failing.remove(&labels);
            self.audit_sink_deliveries.remove(&labels);
            self.audit_sink_failures.remove(&labels);
        }
        *known = present;
    }

    /// OpenMetrics text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
