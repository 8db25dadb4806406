//! `/v1/anomaly-rules`: what the anomaly detector watches the audit log for. Each rule has a
//! `kind` and thresholds that apply to that kind; a rule that fires appends an
//! `anomaly.detected` audit event (delivered to the audit sinks like any other), once per
//! incident. Every workspace starts with one enabled rule of each kind, named
//! `default-<kind with dashes>`, which may be changed, disabled or imported into Terraform.

use serde::{Deserialize, Serialize};

/// Rules a workspace may hold.
pub const MAX_RULES: usize = 50;
/// Longest window of any rule: one day.
pub const MAX_WINDOW_MINUTES: i64 = 1440;
/// Largest count threshold.
pub const MAX_THRESHOLD: i64 = 1_000_000;
/// Longest `min_key_age_hours`: one year.
pub const MAX_KEY_AGE_HOURS: i64 = 8760;

/// What a rule watches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// `threshold` rotations of one key (its rotation lineage) or of one service account's keys
    /// within `window_minutes`.
    RapidRotation,
    /// One refresh-token family or session (`token.issued`, `token.refreshed`), or one workload
    /// identity subject (`token.exchanged`), used from two regions within `window_minutes`.
    CrossRegionTokenExchange,
    /// `threshold` failed authentications of one key id, or from one client network (/24, /64),
    /// within `window_minutes`.
    FailedAuthBurst,
    /// A revoked key (in its 30-day quarantine) presented again.
    RevokedKeyUse,
    /// A key used successfully from a network it never used before, once it has a history: at
    /// least one earlier network and older than `min_key_age_hours`.
    NewNetwork,
}

/// Which thresholds a kind takes (`window_minutes` applies to all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindDefaults {
    /// Default `threshold`, or `None` when the kind takes no count.
    pub threshold: Option<i64>,
    /// Smallest `threshold` allowed.
    pub min_threshold: i64,
    /// Default `window_minutes`.
    pub window_minutes: i64,
    /// Default `min_key_age_hours`, or `None` when the kind takes no key age.
    pub min_key_age_hours: Option<i64>,
}

impl AnomalyKind {
    /// Every kind, in the order the default rules are created.
    pub const ALL: [AnomalyKind; 5] = [
        AnomalyKind::RapidRotation,
        AnomalyKind::CrossRegionTokenExchange,
        AnomalyKind::FailedAuthBurst,
        AnomalyKind::RevokedKeyUse,
        AnomalyKind::NewNetwork,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::RapidRotation => "rapid_rotation",
            AnomalyKind::CrossRegionTokenExchange => "cross_region_token_exchange",
            AnomalyKind::FailedAuthBurst => "failed_auth_burst",
            AnomalyKind::RevokedKeyUse => "revoked_key_use",
            AnomalyKind::NewNetwork => "new_network",
        }
    }

    /// The kind of a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The wire names, for documentation and errors.
    pub const NAMES: &'static [&'static str] = &[
        "rapid_rotation",
        "cross_region_token_exchange",
        "failed_auth_burst",
        "revoked_key_use",
        "new_network",
    ];

    /// The name of the workspace's default rule of this kind.
    pub fn default_rule_name(self) -> String {
        format!("default-{}", self.as_str().replace('_', "-"))
    }

    /// The defaults, chosen so that normal operation stays silent: a 90-day rotation is one
    /// rotation, three within an hour is a script or an intruder; twenty failures in five
    /// minutes is more than a misconfigured client's retries before backoff; two regions
    /// within an hour is faster than anyone travels; a key is "established" after a day.
    pub fn defaults(self) -> KindDefaults {
        let (threshold, min_threshold, window_minutes, min_key_age_hours) = match self {
            AnomalyKind::RapidRotation => (Some(3), 2, 60, None),
            AnomalyKind::CrossRegionTokenExchange | AnomalyKind::RevokedKeyUse => {
                (None, 0, 60, None)
            }
            AnomalyKind::FailedAuthBurst => (Some(20), 1, 5, None),
            AnomalyKind::NewNetwork => (None, 0, 60, Some(24)),
        };
        KindDefaults {
            threshold,
            min_threshold,
            window_minutes,
            min_key_age_hours,
        }
    }
}

/// An anomaly rule as the API answers it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnomalyRule {
    /// `anr_…`.
    pub id: String,
    /// The workspace whose audit log it watches.
    pub workspace_id: String,
    /// Unique in the workspace.
    pub name: String,
    /// `rapid_rotation`, `cross_region_token_exchange`, `failed_auth_burst`, `revoked_key_use`
    /// or `new_network`.
    pub kind: String,
    /// A disabled rule watches nothing.
    pub enabled: bool,
    /// The count that fires the rule (`rapid_rotation`, `failed_auth_burst`); null for other kinds.
    #[serde(default)]
    pub threshold: Option<i64>,
    /// The window the count or the regions are taken over, and how long an incident must be
    /// quiet before a new one opens.
    pub window_minutes: i64,
    /// `new_network`: how old a key must be before a new network is an anomaly; null for
    /// other kinds.
    #[serde(default)]
    pub min_key_age_hours: Option<i64>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn enabled_by_default() -> bool {
    true
}

/// `POST /v1/anomaly-rules`. Thresholds left out take the kind's defaults; a threshold the
/// kind does not take is refused.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAnomalyRule {
    /// Unique in the workspace.
    pub name: String,
    /// What the rule watches for.
    pub kind: String,
    /// Default true.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// `rapid_rotation` (default 3, at least 2) and `failed_auth_burst` (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<i64>,
    /// 1 to 1440 (default 60; `failed_auth_burst` 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<i64>,
    /// `new_network` only: 0 to 8760 (default 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_key_age_hours: Option<i64>,
}

/// `PATCH /v1/anomaly-rules/{id}`: absent fields stay. The kind cannot change.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAnomalyRule {
    /// Unique in the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A disabled rule watches nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// See [`CreateAnomalyRule::threshold`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<i64>,
    /// See [`CreateAnomalyRule::window_minutes`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<i64>,
    /// See [`CreateAnomalyRule::min_key_age_hours`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_key_age_hours: Option<i64>,
}

impl UpdateAnomalyRule {
    /// The rule as it would be after this change.
    pub fn merged(&self, before: &AnomalyRule) -> CreateAnomalyRule {
        CreateAnomalyRule {
            name: self.name.clone().unwrap_or_else(|| before.name.clone()),
            kind: before.kind.clone(),
            enabled: self.enabled.unwrap_or(before.enabled),
            threshold: self.threshold.or(before.threshold),
            window_minutes: self.window_minutes.or(Some(before.window_minutes)),
            min_key_age_hours: self.min_key_age_hours.or(before.min_key_age_hours),
        }
    }
}

/// A rule's settings once validated: every threshold of its kind filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidAnomalyRule {
    /// Trimmed.
    pub name: String,
    /// The kind.
    pub kind: AnomalyKind,
    /// Whether the rule watches.
    pub enabled: bool,
    /// Set exactly when the kind takes a count.
    pub threshold: Option<i64>,
    /// Always set.
    pub window_minutes: i64,
    /// Set exactly for `new_network`.
    pub min_key_age_hours: Option<i64>,
}
