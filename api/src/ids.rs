//! Object ids: a type prefix, `_`, then 32 lowercase hex digits of a UUIDv7 (time-ordered, so
//! ordering by id is creation order). The server mints them; clients treat everything after the
//! prefix as opaque.

/// Workspaces, `ws_…`.
pub const WORKSPACE: &str = "ws";
/// Service accounts, `sa_…`.
pub const SERVICE_ACCOUNT: &str = "sa";
/// API keys (the object, not the key id inside a secret), `key_…`.
pub const API_KEY: &str = "key";
/// Audit events, `evt_…`.
pub const EVENT: &str = "evt";
/// Environment clusters, `ec_…`.
pub const CLUSTER: &str = "ec";
/// Role bindings, `rb_…`.
pub const ROLE_BINDING: &str = "rb";
/// SSO connections, `sso_…`.
pub const SSO_CONNECTION: &str = "sso";

/// Users signed in through SSO, `usr_…`.
pub const USER: &str = "usr";
/// Their sessions, `ses_…`.
pub const SESSION: &str = "ses";

/// OAuth clients of StatusPulse's authorization server, `oc_…` (the `client_id`).
pub const OAUTH_CLIENT: &str = "oc";

/// Conditional access policies, `ap_…`.
pub const ACCESS_POLICY: &str = "ap";

/// Workload identity trust policies, `wi_…`.
pub const WORKLOAD_IDENTITY: &str = "wi";

/// Anomaly rules, `anr_…`.
pub const ANOMALY_RULE: &str = "anr";
/// Audit sinks (SIEM forwarding), `snk_…`.
pub const AUDIT_SINK: &str = "snk";

/// Hex digits after the prefix of an id the server mints (a UUID in simple form).
pub const MINTED_BODY_LEN: usize = 32;
/// Longest body a client accepts after the prefix (server/API.md: ids are opaque).
pub const MAX_OPAQUE_BODY_LEN: usize = 128;

/// Whether `id` is exactly what the server mints under `prefix`. Anything else cannot exist, so
/// the server answers 404 without a lookup.
pub fn is_minted(id: &str, prefix: &str) -> bool {
    match id.split_once('_') {
        Some((p, rest)) => {
            p == prefix
                && rest.len() == MINTED_BODY_LEN
                && rest.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// The client-side check: `prefix_` then 1 to 128 of `A-Z a-z 0-9 _ -`. Looser than
/// [`is_minted`] on purpose: clients only promise that the prefix names the type, so a future id
/// body does not break configurations that hold one.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= MAX_OPAQUE_BODY_LEN
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_need_their_prefix_and_32_hex_digits() {
        let id = "sa_0192f0c1e5a87c3e9b1d2f3a4b5c6d7e";
        assert!(is_minted(id, SERVICE_ACCOUNT));
        assert!(!is_minted(id, API_KEY));
        assert!(!is_minted("sa_0192f0c1", SERVICE_ACCOUNT));
        assert!(!is_minted(
            "sa_0192f0c1e5a87c3e9b1d2f3a4b5c6d7g",
            SERVICE_ACCOUNT
        ));
    }

    #[test]
    fn every_minted_id_passes_the_client_check_but_not_the_reverse() {
        let id = "key_0192f0c1e5a87c3e9b1d2f3a4b5c6d7e";
        assert!(is_minted(id, API_KEY) && has_prefix(id, API_KEY));
        assert!(has_prefix("sa_01HXYZ", SERVICE_ACCOUNT));
        assert!(!is_minted("sa_01HXYZ", SERVICE_ACCOUNT));
        assert!(!has_prefix("key_", API_KEY));
        assert!(!has_prefix("key_a b", API_KEY));
        assert!(!has_prefix("keys_abc", API_KEY));
    }
}
