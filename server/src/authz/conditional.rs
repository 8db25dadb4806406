//! Conditional access: which OAuth scopes may be issued in the circumstances of a request.
//!
//! A policy (`/v1/access-policies`, `management::access_policies`) governs some OAuth scopes and
//! names conditions: groups, clients, MFA, authentication methods, networks, regions. Each
//! condition that is set must hold, and within one condition any listed entry will do. A scope
//! that no enabled policy governs is issued as scope negotiation decides; a governed one only when
//! **every** enabled policy governing it holds, so adding a policy can only narrow what is issued,
//! never widen it. The OAuth server evaluates at authorization and at every refresh; `GET
//! /v1/effective-access` evaluates the same way for a person or a group and says why a scope is
//! withheld.
//!
//! Pure: the caller loads the policies and gathers the circumstances.

use std::net::IpAddr;

use statuspulse_api::v1::{AccessPolicy, PolicyWithholding};

use crate::platform::network::Cidr;

/// What a request is evaluated on.
#[derive(Clone, Debug, Default)]
pub struct Circumstances<'a> {
    /// The person's StatusPulse groups (after the connection's group mappings, as they are now).
    pub groups: &'a [String],
    /// The OAuth client the token goes to; `None` asks "whichever client".
    pub client_id: Option<&'a str>,
    /// Whether the sign-in proved multi-factor authentication.
    pub mfa: bool,
    /// The sign-in's authentication methods (`amr`).
    pub amr: &'a [String],
    /// The client's address, when known.
    pub ip: Option<IpAddr>,
    /// The client's region, when known.
    pub region: Option<&'a str>,
}

/// The enabled policies of a workspace, with their networks parsed once.
#[derive(Debug, Default)]
pub struct Policies(Vec<(AccessPolicy, Vec<Cidr>)>);

impl Policies {
    /// Disabled policies are left out; a stored network that no longer parses matches nothing
    /// (it was validated on the way in, so this is corruption, and failing closed is safe).
    pub fn new(policies: Vec<AccessPolicy>) -> Self {
        Self(
            policies
                .into_iter()
                .filter(|p| p.enabled)
                .map(|p| {
                    let networks = p
                        .conditions
                        .networks
                        .iter()
                        .filter_map(|n| Cidr::parse(n).ok())
                        .collect();
                    (p, networks)
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Splits `scopes` into those issued and those withheld (one entry per scope and policy that
    /// withholds it), keeping the order of `scopes`.
    pub fn evaluate(
        &self,
        scopes: &[String],
        circumstances: &Circumstances<'_>,
    ) -> (Vec<String>, Vec<PolicyWithholding>) {
        let mut issued = Vec::with_capacity(scopes.len());
        let mut withheld = Vec::new();
        for scope in scopes {
            let before = withheld.len();
            for (policy, networks) in &self.0 {
                if !policy.scopes.contains(scope) {
                    continue;
                }
                if let Some((condition, detail)) = unmet(policy, networks, circumstances) {
                    withheld.push(PolicyWithholding {
                        scope: scope.clone(),
                        policy_id: policy.id.clone(),
                        policy_name: policy.name.clone(),
                        condition: condition.to_owned(),
                        detail,
                    });
                }
            }
            if withheld.len() == before {
                issued.push(scope.clone());
            }
        }
        (issued, withheld)
    }
}

/// The first condition of `policy` that does not hold, and why, for a person.
fn unmet(
    policy: &AccessPolicy,
    networks: &[Cidr],
    c: &Circumstances<'_>,
) -> Option<(&'static str, String)> {
    let when = &policy.conditions;
    if !when.groups.is_empty() && !when.groups.iter().any(|g| c.groups.contains(g)) {
        return Some((
            "groups",
            format!(
                "the person is in none of the groups {}",
                listed(&when.groups)
            ),
        ));
    }
    if !when.client_ids.is_empty()
        && !c
            .client_id
            .is_some_and(|id| when.client_ids.iter().any(|allowed| allowed == id))
    {
        return Some((
            "client_ids",
            format!("the client is not one of {}", listed(&when.client_ids)),
        ));
    }
    if when.require_mfa && !c.mfa {
        return Some((
            "require_mfa",
            "the sign-in did not prove multi-factor authentication".to_owned(),
        ));
    }
    if !when.amr.is_empty() && !when.amr.iter().any(|m| c.amr.contains(m)) {
        return Some((
            "amr",
            format!("the sign-in used none of the methods {}", listed(&when.amr)),
        ));
    }
    if !when.networks.is_empty()
        && !c
            .ip
            .is_some_and(|ip| networks.iter().any(|n| n.contains(ip)))
    {
        let from =
            c.ip.map_or("an unknown address".to_owned(), |ip| ip.to_string());
        return Some((
            "networks",
            format!(
                "the request comes from {from}, outside {}",
                listed(&when.networks)
            ),
        ));
    }
    if !when.regions.is_empty()
        && !c
            .region
            .is_some_and(|r| when.regions.iter().any(|allowed| allowed == r))
    {
        let from = c
            .region
            .map_or("an unknown region".to_owned(), |r| format!("region `{r}`"));
        return Some((
            "regions",
            format!(
                "the request comes from {from}, not {}",
                listed(&when.regions)
            ),
        ));
    }
    None
}

/// `a`, `b` and 3 more: bounded, since a list may hold a hundred entries.
fn listed(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut out: Vec<String> = items.iter().take(SHOWN).map(|i| format!("`{i}`")).collect();
    if items.len() > SHOWN {
        out.push(format!("{} more", items.len() - SHOWN));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use statuspulse_api::v1::AccessConditions;

    fn policy(name: &str, scopes: &[&str], conditions: AccessConditions) -> AccessPolicy {
        AccessPolicy {
            id: format!("ap_{name}"),
            workspace_id: "ws_1".to_owned(),
            name: name.to_owned(),
            description: String::new(),
            enabled: true,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            conditions,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    const MANAGE: &str = "statuspulse:alerts:manage";
    const READ: &str = "statuspulse:checks:read";

    #[test]
    fn ungoverned_scopes_pass_and_governed_ones_need_every_policy_that_governs_them() {
        let policies = Policies::new(vec![
            policy(
                "mfa",
                &[MANAGE],
                AccessConditions {
                    require_mfa: true,
                    ..Default::default()
                },
            ),
            policy(
                "office",
                &[MANAGE, READ],
                AccessConditions {
                    networks: strings(&["10.0.0.0/8"]),
                    ..Default::default()
                },
            ),
        ]);
        let asked = strings(&["openid", READ, MANAGE]);
        let office: IpAddr = "10.1.2.3".parse().unwrap();
        let home: IpAddr = "198.51.100.4".parse().unwrap();
        let at = |mfa, ip| Circumstances {
            mfa,
            ip: Some(ip),
            ..Default::default()
        };

        let (issued, withheld) = policies.evaluate(&asked, &at(true, office));
        assert_eq!(issued, asked);
        assert!(withheld.is_empty());

        let (issued, withheld) = policies.evaluate(&asked, &at(false, office));
        assert_eq!(issued, strings(&["openid", READ]));
        assert_eq!(withheld.len(), 1);
        assert_eq!(
            (withheld[0].scope.as_str(), withheld[0].condition.as_str()),
            (MANAGE, "require_mfa")
        );

        // Both policies withhold alerts:manage from home without MFA: both are named.
        let (issued, withheld) = policies.evaluate(&asked, &at(false, home));
        assert_eq!(issued, strings(&["openid"]));
        let reasons: Vec<_> = withheld
            .iter()
            .map(|w| (w.scope.as_str(), w.policy_name.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [(READ, "office"), (MANAGE, "mfa"), (MANAGE, "office")]
        );
        assert!(
            withheld[0].detail.contains("198.51.100.4"),
            "{}",
            withheld[0].detail
        );
    }

    #[test]
    fn each_condition_fails_closed_when_its_input_is_unknown() {
        let every = Policies::new(vec![policy(
            "all",
            &[READ],
            AccessConditions {
                groups: strings(&["sre"]),
                client_ids: strings(&["oc_1"]),
                require_mfa: true,
                amr: strings(&["hwk"]),
                networks: strings(&["10.0.0.0/8", "2001:db8::/32"]),
                regions: strings(&["eu-west-1"]),
            },
        )]);
        let asked = strings(&[READ]);
        let groups = strings(&["sre"]);
        let amr = strings(&["pwd", "hwk"]);
        let full = Circumstances {
            groups: &groups,
            client_id: Some("oc_1"),
            mfa: true,
            amr: &amr,
            // An IPv4-mapped IPv6 address is the IPv4 one.
            ip: Some("::ffff:10.9.9.9".parse().unwrap()),
            region: Some("eu-west-1"),
        };
        assert_eq!(every.evaluate(&asked, &full).0, asked);
        let cases: [(&str, Circumstances<'_>); 6] = [
            (
                "groups",
                Circumstances {
                    groups: &[],
                    ..full.clone()
                },
            ),
            (
                "client_ids",
                Circumstances {
                    client_id: None,
                    ..full.clone()
                },
            ),
            (
                "require_mfa",
                Circumstances {
                    mfa: false,
                    ..full.clone()
                },
            ),
            (
                "amr",
                Circumstances {
                    amr: &[],
                    ..full.clone()
                },
            ),
            (
                "networks",
                Circumstances {
                    ip: None,
                    ..full.clone()
                },
            ),
            (
                "regions",
                Circumstances {
                    region: None,
                    ..full.clone()
                },
            ),
        ];
        for (condition, circumstances) in cases {
            let (issued, withheld) = every.evaluate(&asked, &circumstances);
            assert!(issued.is_empty(), "{condition}");
            assert_eq!(withheld[0].condition, condition);
        }
    }

    #[test]
    fn a_disabled_policy_restricts_nothing() {
        let mut off = policy(
            "off",
            &[READ],
            AccessConditions {
                require_mfa: true,
                ..Default::default()
            },
        );
        off.enabled = false;
        let policies = Policies::new(vec![off]);
        assert!(policies.is_empty());
        let asked = strings(&[READ]);
        assert_eq!(
            policies.evaluate(&asked, &Circumstances::default()).0,
            asked
        );
    }

    #[test]
    fn long_lists_are_shortened_in_details() {
        let many: Vec<String> = (0..40).map(|i| format!("g{i}")).collect();
        assert_eq!(listed(&many), "`g0`, `g1`, `g2`, `g3`, `g4`, 35 more");
    }
}
