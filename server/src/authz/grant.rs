//! The one grant rule: **nothing can hand out more than it holds.**
//!
//! Every route that creates or widens a credential or a grant (key create, rotate and update;
//! role-binding create and update; later SSO group mappings, OAuth clients and tokens) describes
//! what it is about to hand out as a [`Grant`] and asks [`check`] whether the caller's
//! [`Authority`] covers it. The rule is decided here, once, on every dimension a credential has:
//!
//! - **principal**: a credential that belongs to a service account acts for that account only;
//!   it cannot mint keys of other accounts, principal-less workspace keys, or group bindings;
//! - **environment**: `test` is the lesser environment. A `sp_test_` credential holds nothing in
//!   `live`; a `sp_live_` credential holds in `test` what it holds in `live` (its role bindings
//!   evaluated there), unless it is narrowed to clusters, which are clusters of `live` only;
//! - **scopes and clusters**: at every point a grant reaches (each cluster of each environment,
//!   one cluster that does not exist yet, and "anywhere in the environment"), its scopes must be
//!   scopes the caller holds at that same point, after the caller's own role bindings;
//! - **restrictions**: a caller restricted to check groups or alert routes hands out only keys
//!   restricted to a subset of them, and no role binding (bindings carry no such restriction).
//!
//! It is pure (no I/O): the route loads the facts, this decides.

use std::collections::BTreeMap;

use crate::authz::access::{AccessContext, Binding};
use crate::authz::scopes::{Environment, Scope, Scopes};

/// Whom a credential or a grant is made to: the subject of a key (workspace or service account)
/// or of a role binding (service account or SSO group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grantee {
    /// A workspace-level key: no service account, not narrowed by role bindings.
    Workspace,
    ServiceAccount(String),
    /// An SSO group (role bindings only).
    Group(String),
}

/// The `principal_type` a role binding stores for a service account.
pub const SERVICE_ACCOUNT: &str = "service_account";
/// The `principal_type` a role binding stores for an SSO group.
pub const GROUP: &str = "group";

impl Grantee {
    /// The subject of a stored role binding. A type this code does not know is corruption, and
    /// fails closed rather than becoming some other principal.
    pub fn of_binding(principal_type: &str, principal_id: &str) -> Result<Self, sqlx::Error> {
        match principal_type {
            SERVICE_ACCOUNT => Ok(Grantee::ServiceAccount(principal_id.to_owned())),
            GROUP => Ok(Grantee::Group(principal_id.to_owned())),
            other => Err(sqlx::Error::Decode(
                format!("role binding principal type `{other}`").into(),
            )),
        }
    }

    /// How a role binding stores this subject: `(principal_type, principal_id)`. A workspace is
    /// never the subject of a binding.
    pub fn binding_columns(&self) -> Option<(&'static str, &str)> {
        match self {
            Grantee::ServiceAccount(id) => Some((SERVICE_ACCOUNT, id)),
            Grantee::Group(name) => Some((GROUP, name)),
            Grantee::Workspace => None,
        }
    }

    pub fn from_service_account(id: Option<&str>) -> Self {
        id.map_or(Grantee::Workspace, |sa| {
            Grantee::ServiceAccount(sa.to_owned())
        })
    }
}

/// What an API key can do: the caller's, or the one about to be minted.
#[derive(Clone, Debug)]
pub struct KeyAuthority {
    pub principal: Grantee,
    pub environment: Environment,
    /// The scopes the key asks for; bindings in `access` decide which are effective.
    pub scopes: Scopes,
    /// Clusters of its environment the key is narrowed to (empty: all).
    pub environment_clusters: Vec<String>,
    /// Empty: unrestricted.
    pub check_group_ids: Vec<String>,
    /// Empty: unrestricted.
    pub alert_route_ids: Vec<String>,
    /// The workspace's clusters and the bindings of the key's service account.
    pub access: AccessContext,
}

/// The caller's authority is that of the key it authenticated with.
pub type Authority = KeyAuthority;

/// What is about to be handed out.
#[derive(Clone, Debug)]
pub enum Grant<'a> {
    /// A key (created, a rotation's successor, or the result of an update).
    Key(&'a KeyAuthority),
    /// A role binding for `principal`, with the workspace's clusters in `clusters`.
    Binding {
        principal: &'a Grantee,
        binding: &'a Binding,
        clusters: &'a BTreeMap<String, Environment>,
    },
}

/// Why a grant was refused. The code and field are part of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub code: &'static str,
    pub field: &'static str,
    pub detail: String,
}

impl Denial {
    fn new(code: &'static str, field: &'static str, detail: String) -> Self {
        Self {
            code,
            field,
            detail,
        }
    }
}

/// Decides whether `caller` may hand out `grant`.
pub fn check(caller: &Authority, grant: &Grant<'_>) -> Result<(), Denial> {
    check_principal(caller, grant)?;
    check_restrictions(caller, grant)?;
    check_reach(caller, grant)
}

fn check_principal(caller: &Authority, grant: &Grant<'_>) -> Result<(), Denial> {
    let Grantee::ServiceAccount(own) = &caller.principal else {
        return Ok(());
    };
    let (target, field) = match grant {
        Grant::Key(key) => (&key.principal, "service_account_id"),
        Grant::Binding { principal, .. } => (*principal, "service_account_id"),
    };
    if matches!(target, Grantee::ServiceAccount(sa) if sa == own) {
        return Ok(());
    }
    Err(Denial::new(
        "principal_escalation",
        field,
        format!(
            "your key belongs to service account {own} and can only grant to that account, \
             not to {}",
            match target {
                Grantee::Workspace => "a workspace key without a service account".to_owned(),
                Grantee::ServiceAccount(sa) => format!("service account {sa}"),
                Grantee::Group(g) => format!("group `{g}`"),
            }
        ),
    ))
}

fn check_restrictions(caller: &Authority, grant: &Grant<'_>) -> Result<(), Denial> {
    for (field, held, restricted_to) in [
        (
            "check_group_ids",
            &caller.check_group_ids,
            grant_restriction(grant, |k| &k.check_group_ids),
        ),
        (
            "alert_route_ids",
            &caller.alert_route_ids,
            grant_restriction(grant, |k| &k.alert_route_ids),
        ),
    ] {
        if held.is_empty() {
            continue;
        }
        let within = restricted_to
            .is_some_and(|ids| !ids.is_empty() && ids.iter().all(|id| held.contains(id)));
        if !within {
            return Err(Denial::new(
                "restriction_escalation",
                field,
                format!(
                    "your key is restricted to {field} [{}]; what it grants must be restricted \
                     to some of them too",
                    held.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A grant's restriction list; `None` for a binding, which cannot be restricted.
fn grant_restriction<'a>(
    grant: &'a Grant<'_>,
    field: impl Fn(&'a KeyAuthority) -> &'a Vec<String>,
) -> Option<&'a [String]> {
    match grant {
        Grant::Key(key) => Some(field(key)),
        Grant::Binding { .. } => None,
    }
}

/// One place a grant can reach.
#[derive(Clone, Copy, Debug)]
enum Point<'a> {
    /// A named cluster of the workspace.
    Cluster(&'a str),
    /// A cluster created after the grant: unnarrowed keys and unconfined bindings reach it too.
    Future,
    /// Anywhere in the environment: what management routes and cluster-less verification see.
    Anywhere,
}

fn check_reach(caller: &Authority, grant: &Grant<'_>) -> Result<(), Denial> {
    let clusters = match grant {
        Grant::Key(key) => &key.access.clusters,
        Grant::Binding { clusters, .. } => clusters,
    };
    for environment in [Environment::Live, Environment::Test] {
        let points = clusters
            .iter()
            .filter(|(_, env)| **env == environment)
            .map(|(name, _)| Point::Cluster(name))
            .chain([Point::Future, Point::Anywhere]);
        for point in points {
            let held = held_at(caller, environment, point);
            let beyond: Vec<Scope> = granted_at(grant, environment, point)
                .iter()
                .filter(|s| !held.grants(*s))
                .collect();
            if !beyond.is_empty() {
                return Err(reach_denial(caller, grant, &beyond, environment, point));
            }
        }
    }
    Ok(())
}

/// Names the dimension a refused grant exceeds: the environment, the scopes themselves, or where.
fn reach_denial(
    caller: &Authority,
    grant: &Grant<'_>,
    beyond: &[Scope],
    environment: Environment,
    point: Point<'_>,
) -> Denial {
    let names = beyond
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let held_somewhere = held_at(caller, caller.environment, Point::Anywhere);
    if !beyond.iter().all(|s| held_somewhere.grants(*s)) {
        return Denial::new(
            "scope_escalation",
            "scopes",
            format!("your key cannot grant scopes it does not hold: {names}"),
        );
    }
    if let Grant::Key(key) = grant {
        if key.environment != caller.environment {
            return Denial::new(
                "environment_escalation",
                "environment",
                format!(
                    "your sp_{}_ key cannot grant {names} in the {} environment",
                    caller.environment, key.environment
                ),
            );
        }
    }
    let place = match point {
        Point::Cluster(c) => format!("cluster `{c}`"),
        Point::Future => format!("{environment} clusters it is not confined to"),
        Point::Anywhere => format!("the {environment} environment"),
    };
    Denial::new(
        "cluster_escalation",
        "environment_clusters",
        format!("your key does not hold {names} in {place}; confine the grant to where it does"),
    )
}

/// The scopes `grant` confers at one point.
fn granted_at(grant: &Grant<'_>, environment: Environment, point: Point<'_>) -> Scopes {
    match grant {
        Grant::Key(key) => held_at(key, environment, point),
        Grant::Binding {
            binding, clusters, ..
        } => {
            let context = AccessContext {
                clusters: with_future_clusters(clusters),
                bindings: None,
            };
            let future = future_cluster(environment);
            if context.binding_applies(binding, environment, point.cluster(&future)) {
                binding.scopes.clone()
            } else {
                Scopes::default()
            }
        }
    }
}

/// The scopes a key holds at one point: what verification would grant it there, and, for a
/// `live` key that is not narrowed to clusters, the same in `test`.
fn held_at(key: &KeyAuthority, environment: Environment, point: Point<'_>) -> Scopes {
    let reaches_environment = key.environment == environment
        || (key.environment == Environment::Live
            && environment == Environment::Test
            && key.environment_clusters.is_empty());
    if !reaches_environment {
        return Scopes::default();
    }
    let context = AccessContext {
        clusters: with_future_clusters(&key.access.clusters),
        bindings: key.access.bindings.clone(),
    };
    let future = future_cluster(environment);
    match point.cluster(&future) {
        None => context.effective(&key.scopes, environment, None),
        Some(c) => {
            let narrowing = if key.environment == environment {
                key.environment_clusters.as_slice()
            } else {
                &[]
            };
            match context.check_cluster(c, environment, narrowing) {
                Ok(()) => context.effective(&key.scopes, environment, Some(c)),
                Err(_) => Scopes::default(),
            }
        }
    }
}

fn with_future_clusters(clusters: &BTreeMap<String, Environment>) -> BTreeMap<String, Environment> {
    let mut all = clusters.clone();
    // One future cluster per environment; the environment suffix keeps the names apart.
    for environment in [Environment::Live, Environment::Test] {
        all.insert(future_cluster(environment), environment);
    }
    all
}

/// The name standing for a cluster of `environment` created after the grant: no real cluster
/// can have it, as cluster names are validated to a DNS-like alphabet.
fn future_cluster(environment: Environment) -> String {
    format!("<future {environment} cluster>")
}

impl<'a> Point<'a> {
    /// The cluster name evaluation uses for this point (`future` names [`Point::Future`]).
    fn cluster(self, future: &'a str) -> Option<&'a str> {
        match self {
            Point::Cluster(c) => Some(c),
            Point::Future => Some(future),
            Point::Anywhere => None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The rule is tested against an oracle that knows nothing of how [`check`] works: the
    //! decisions verification makes (`GET /v1/auth/verify` with a scope, environment, cluster,
    //! check group and alert route), probed everywhere, including in a cluster created later.

    use proptest::prelude::*;

    use super::*;

    const GROUPS: [&str; 2] = ["cg-1", "cg-2"];
    const ROUTES: [&str; 2] = ["ar-1", "ar-2"];
    const ACCOUNTS: [&str; 2] = ["sa_a", "sa_b"];

    fn workspace_clusters() -> BTreeMap<String, Environment> {
        [
            ("eu-prod-1", Environment::Live),
            ("us-prod-1", Environment::Live),
            ("eu-sandbox", Environment::Test),
        ]
        .into_iter()
        .map(|(n, e)| (n.to_owned(), e))
        .collect()
    }

    /// A workspace: its clusters and the bindings of each principal.
    #[derive(Clone, Debug)]
    struct World {
        clusters: BTreeMap<String, Environment>,
        bindings: BTreeMap<String, Vec<Binding>>,
    }

    impl World {
        fn context(&self, principal: &Grantee) -> AccessContext {
            let bindings = match principal {
                Grantee::Workspace => None,
                Grantee::ServiceAccount(id) | Grantee::Group(id) => {
                    Some(self.bindings.get(id).cloned().unwrap_or_default())
                }
            };
            AccessContext {
                clusters: self.clusters.clone(),
                bindings,
            }
        }

        /// The same workspace after someone creates a cluster in each environment.
        fn grown(&self) -> World {
            let mut grown = self.clone();
            grown.clusters.insert("new-live".into(), Environment::Live);
            grown.clusters.insert("new-test".into(), Environment::Test);
            grown
        }
    }

    #[derive(Clone, Debug)]
    struct Probe {
        environment: Environment,
        cluster: Option<String>,
        scope: Scope,
        check_group: Option<&'static str>,
        alert_route: Option<&'static str>,
    }

    /// Verification's decision, as `verify_credential` makes it.
    fn may(key: &KeyAuthority, world: &World, probe: &Probe) -> bool {
        let ctx = world.context(&key.principal);
        if probe.environment != key.environment {
            return false;
        }
        let scopes = match &probe.cluster {
            Some(c) => {
                if ctx
                    .check_cluster(c, key.environment, &key.environment_clusters)
                    .is_err()
                {
                    return false;
                }
                ctx.effective(&key.scopes, key.environment, Some(c))
            }
            None => ctx.effective(&key.scopes, key.environment, None),
        };
        let allowed = |held: &[String], asked: Option<&str>| {
            asked.is_none_or(|a| held.is_empty() || held.iter().any(|h| h == a))
        };
        scopes.grants(probe.scope)
            && allowed(&key.check_group_ids, probe.check_group)
            && allowed(&key.alert_route_ids, probe.alert_route)
    }

    /// What the caller holds: its own decisions, and for a `live` key not narrowed to clusters
    /// the same decisions in `test` (the documented downward reach).
    fn holds(caller: &KeyAuthority, world: &World, probe: &Probe) -> bool {
        may(caller, world, probe)
            || (caller.environment == Environment::Live
                && caller.environment_clusters.is_empty()
                && may(
                    &KeyAuthority {
                        environment: Environment::Test,
                        ..caller.clone()
                    },
                    world,
                    probe,
                ))
    }

    fn probes(world: &World) -> Vec<Probe> {
        let mut probes = Vec::new();
        for (environment, cluster) in world
            .clusters
            .iter()
            .map(|(n, e)| (*e, Some(n.clone())))
            .chain([(Environment::Live, None), (Environment::Test, None)])
        {
            for scope in Scope::ALL {
                for check_group in [None, Some(GROUPS[0]), Some(GROUPS[1]), Some("cg-9")] {
                    for alert_route in [None, Some(ROUTES[1]), Some("ar-9")] {
                        probes.push(Probe {
                            environment,
                            cluster: cluster.clone(),
                            scope: *scope,
                            check_group,
                            alert_route,
                        });
                    }
                }
            }
        }
        probes
    }

    fn subset<T: Clone + std::fmt::Debug + 'static>(
        items: Vec<T>,
    ) -> impl Strategy<Value = Vec<T>> {
        let n = items.len();
        proptest::collection::vec(any::<bool>(), n).prop_map(move |pick| {
            items
                .iter()
                .zip(pick)
                .filter(|(_, keep)| *keep)
                .map(|(item, _)| item.clone())
                .collect()
        })
    }

    fn scopes() -> impl Strategy<Value = Scopes> {
        subset(Scope::ALL.to_vec()).prop_map(|s| s.into_iter().collect())
    }

    fn environment() -> impl Strategy<Value = Environment> {
        prop_oneof![Just(Environment::Live), Just(Environment::Test)]
    }

    fn binding() -> impl Strategy<Value = Binding> {
        let names: Vec<String> = workspace_clusters().into_keys().collect();
        (scopes(), subset(names)).prop_map(|(scopes, clusters)| Binding { scopes, clusters })
    }

    fn world() -> impl Strategy<Value = World> {
        proptest::collection::vec(proptest::collection::vec(binding(), 0..3), 3).prop_map(
            |mut per_principal| World {
                clusters: workspace_clusters(),
                bindings: ["sa_a", "sa_b", "admins"]
                    .into_iter()
                    .map(|p| (p.to_owned(), per_principal.remove(0)))
                    .collect(),
            },
        )
    }

    fn principal() -> impl Strategy<Value = Grantee> {
        prop_oneof![
            Just(Grantee::Workspace),
            Just(Grantee::ServiceAccount(ACCOUNTS[0].into())),
            Just(Grantee::ServiceAccount(ACCOUNTS[1].into())),
        ]
    }

    fn key() -> impl Strategy<Value = KeyAuthority> {
        let names: Vec<String> = workspace_clusters().into_keys().collect();
        let strs = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        (
            principal(),
            environment(),
            scopes(),
            subset(names),
            subset(strs(&GROUPS)),
            subset(strs(&ROUTES)),
        )
            .prop_map(
                |(principal, environment, scopes, clusters, groups, routes)| {
                    KeyAuthority {
                        principal,
                        environment,
                        scopes,
                        // Only clusters of its own environment, as the routes ensure.
                        environment_clusters: clusters
                            .into_iter()
                            .filter(|c| workspace_clusters()[c] == environment)
                            .collect(),
                        check_group_ids: groups,
                        alert_route_ids: routes,
                        access: AccessContext::default(),
                    }
                },
            )
    }

    fn with_context(mut key: KeyAuthority, world: &World) -> KeyAuthority {
        key.access = world.context(&key.principal);
        key
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn a_minted_key_can_never_do_what_its_minter_could_not(
            world in world(), caller in key(), minted in key(),
        ) {
            let caller = with_context(caller, &world);
            let minted = with_context(minted, &world);
            if check(&caller, &Grant::Key(&minted)).is_ok() {
                if let Grantee::ServiceAccount(own) = &caller.principal {
                    prop_assert_eq!(&minted.principal, &Grantee::ServiceAccount(own.clone()));
                }
                // Also after the workspace grows: a grant must not reach clusters made later.
                for world in [world.clone(), world.grown()] {
                    for probe in probes(&world) {
                        prop_assert!(
                            !may(&minted, &world, &probe) || holds(&caller, &world, &probe),
                            "minted key may act at {:?}, its minter may not", probe
                        );
                    }
                }
            }
        }

        #[test]
        fn a_binding_can_never_add_what_its_granter_does_not_hold(
            world in world(), caller in key(), target in 0usize..3, binding in binding(),
        ) {
            let caller = with_context(caller, &world);
            let principal = match target {
                0 => Grantee::ServiceAccount(ACCOUNTS[0].into()),
                1 => Grantee::ServiceAccount(ACCOUNTS[1].into()),
                _ => Grantee::Group("admins".into()),
            };
            let grant = Grant::Binding { principal: &principal, binding: &binding, clusters: &world.clusters };
            if check(&caller, &grant).is_ok() {
                let id = match &principal {
                    Grantee::ServiceAccount(id) | Grantee::Group(id) => id.clone(),
                    Grantee::Workspace => unreachable!(),
                };
                let mut after = world.clone();
                after.bindings.entry(id).or_default().push(binding.clone());
                // The widest key the principal could hold, in either environment.
                for environment in [Environment::Live, Environment::Test] {
                    let widest = KeyAuthority {
                        principal: principal.clone(),
                        environment,
                        scopes: Scope::ALL.iter().copied().collect(),
                        environment_clusters: vec![],
                        check_group_ids: vec![],
                        alert_route_ids: vec![],
                        access: AccessContext::default(),
                    };
                    for (before, after) in [(world.clone(), after.clone()), (world.grown(), after.grown())] {
                        for probe in probes(&after) {
                            let added = may(&widest, &after, &probe) && !may(&widest, &before, &probe);
                            prop_assert!(
                                !added || holds(&caller, &after, &probe),
                                "the binding adds {:?}, which its granter does not hold", probe
                            );
                        }
                    }
                }
            }
        }
    }

    fn admin() -> KeyAuthority {
        KeyAuthority {
            principal: Grantee::Workspace,
            environment: Environment::Live,
            scopes: [Scope::AdminAll].into_iter().collect(),
            environment_clusters: vec![],
            check_group_ids: vec![],
            alert_route_ids: vec![],
            access: AccessContext {
                clusters: workspace_clusters(),
                bindings: None,
            },
        }
    }

    fn scoped(names: &[Scope]) -> Scopes {
        names.iter().copied().collect()
    }

    #[test]
    fn a_workspace_admin_can_grant_anything_in_both_environments() {
        let admin = admin();
        for environment in [Environment::Live, Environment::Test] {
            let key = KeyAuthority {
                environment,
                ..admin.clone()
            };
            assert_eq!(check(&admin, &Grant::Key(&key)), Ok(()));
        }
    }

    #[test]
    fn a_service_account_can_grant_its_own_account_a_narrower_key() {
        let world = World {
            clusters: workspace_clusters(),
            bindings: [(
                "sa_a".to_owned(),
                vec![Binding {
                    scopes: scoped(&[Scope::AdminKeys, Scope::ReadChecks]),
                    clusters: vec!["eu-prod-1".into()],
                }],
            )]
            .into_iter()
            .collect(),
        };
        let caller = with_context(
            KeyAuthority {
                principal: Grantee::ServiceAccount("sa_a".into()),
                scopes: scoped(&[Scope::AdminKeys, Scope::ReadChecks]),
                ..admin()
            },
            &world,
        );
        let narrower = KeyAuthority {
            scopes: scoped(&[Scope::ReadChecks]),
            check_group_ids: vec!["cg-1".into()],
            ..caller.clone()
        };
        assert_eq!(check(&caller, &Grant::Key(&narrower)), Ok(()));
        let other_account = KeyAuthority {
            principal: Grantee::ServiceAccount("sa_b".into()),
            access: world.context(&Grantee::ServiceAccount("sa_b".into())),
            ..narrower.clone()
        };
        assert_eq!(
            check(&caller, &Grant::Key(&other_account)).map_err(|d| d.code),
            Err("principal_escalation")
        );
    }

    #[test]
    fn a_sandbox_key_cannot_grant_in_production() {
        let caller = KeyAuthority {
            environment: Environment::Test,
            ..admin()
        };
        let live = admin();
        assert_eq!(
            check(&caller, &Grant::Key(&live)).map_err(|d| (d.code, d.field)),
            Err(("environment_escalation", "environment"))
        );
    }

    #[test]
    fn a_key_confined_to_a_cluster_cannot_grant_one_that_is_not() {
        let caller = KeyAuthority {
            environment_clusters: vec!["eu-prod-1".into()],
            ..admin()
        };
        assert_eq!(
            check(&caller, &Grant::Key(&admin())).map_err(|d| (d.code, d.field)),
            Err(("cluster_escalation", "environment_clusters"))
        );
        let confined = caller.clone();
        assert_eq!(check(&caller, &Grant::Key(&confined)), Ok(()));
    }

    #[test]
    fn a_restricted_key_grants_only_within_its_restrictions_and_no_bindings() {
        let caller = KeyAuthority {
            check_group_ids: vec!["cg-1".into()],
            ..admin()
        };
        assert_eq!(
            check(&caller, &Grant::Key(&admin())).map_err(|d| (d.code, d.field)),
            Err(("restriction_escalation", "check_group_ids"))
        );
        let binding = Binding {
            scopes: scoped(&[Scope::ReadChecks]),
            clusters: vec![],
        };
        let grant = Grant::Binding {
            principal: &Grantee::ServiceAccount("sa_a".into()),
            binding: &binding,
            clusters: &workspace_clusters(),
        };
        assert_eq!(
            check(&caller, &grant).map_err(|d| d.code),
            Err("restriction_escalation")
        );
    }

    #[test]
    fn a_stored_binding_subject_reads_back_or_fails_closed() {
        for grantee in [
            Grantee::ServiceAccount("sa_a".into()),
            Grantee::Group("ops".into()),
        ] {
            let (kind, id) = grantee.binding_columns().unwrap();
            assert_eq!(Grantee::of_binding(kind, id).unwrap(), grantee);
        }
        assert!(Grantee::Workspace.binding_columns().is_none());
        // Never read as some other principal (it used to become a group).
        assert!(Grantee::of_binding("user", "u_1").is_err());
        assert!(Grantee::of_binding("", "sa_a").is_err());
    }
}
