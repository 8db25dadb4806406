//! Least privilege: what a key may actually do once its principal's role bindings and the
//! workspace's environment clusters are taken into account.
//!
//! A key's own `scopes` are what it asks for. For a service account's key, only the part that
//! the account's role bindings grant is effective, and bindings can confine it to some
//! environment clusters. Narrowing a binding narrows every existing key at once, because the
//! effective scopes are computed here, at verification, not stored on the key.

use std::collections::BTreeMap;

use sqlx::AnyPool;

use crate::authz::scopes::{Environment, Scope, Scopes};

/// One role binding, as evaluation needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub scopes: Scopes,
    /// Cluster names; empty means every cluster of the key's environment.
    pub clusters: Vec<String>,
}

/// The access facts of a workspace that a key's verification depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessContext {
    /// Every environment cluster of the workspace, by name.
    pub clusters: BTreeMap<String, Environment>,
    /// The bindings of the key's service account; `None` for keys that belong to no service
    /// account (workspace admin keys), which bindings do not restrict.
    pub bindings: Option<Vec<Binding>>,
}

/// Why a cluster decision says no. The code is part of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterDenial {
    UnknownCluster,
    EnvironmentMismatch,
    NotAllowed,
}

impl ClusterDenial {
    pub fn code(self) -> &'static str {
        match self {
            ClusterDenial::UnknownCluster => "unknown_cluster",
            ClusterDenial::EnvironmentMismatch => "environment_mismatch",
            ClusterDenial::NotAllowed => "cluster_not_allowed",
        }
    }
}

impl AccessContext {
    pub(crate) fn binding_applies(
        &self,
        binding: &Binding,
        environment: Environment,
        cluster: Option<&str>,
    ) -> bool {
        match cluster {
            Some(c) => binding.clusters.is_empty() || binding.clusters.iter().any(|b| b == c),
            None => {
                binding.clusters.is_empty()
                    || binding
                        .clusters
                        .iter()
                        .any(|c| self.clusters.get(c) == Some(&environment))
            }
        }
    }

    /// What the bindings grant in either environment (without a cluster): a service account's
    /// reach as a whole.
    pub fn granted_anywhere(&self) -> Scopes {
        [Environment::Live, Environment::Test]
            .into_iter()
            .filter_map(|env| self.granted(env, None))
            .flat_map(|s| s.iter().collect::<Vec<_>>())
            .collect()
    }

    /// The scopes bindings grant in `environment` (and `cluster`, when given); `None` when
    /// bindings do not apply to this key at all.
    pub fn granted(&self, environment: Environment, cluster: Option<&str>) -> Option<Scopes> {
        let bindings = self.bindings.as_ref()?;
        Some(
            bindings
                .iter()
                .filter(|b| self.binding_applies(b, environment, cluster))
                .flat_map(|b| b.scopes.iter())
                .collect(),
        )
    }

    /// The part of `requested` that is effective for a key in `environment` (and `cluster`).
    pub fn effective(
        &self,
        requested: &Scopes,
        environment: Environment,
        cluster: Option<&str>,
    ) -> Scopes {
        match self.granted(environment, cluster) {
            None => requested.clone(),
            Some(granted) => intersect(requested, &granted),
        }
    }

    /// Checks that a key in `environment`, narrowed to `key_clusters` (empty = all), may act in
    /// `cluster`.
    pub fn check_cluster(
        &self,
        cluster: &str,
        environment: Environment,
        key_clusters: &[String],
    ) -> Result<(), ClusterDenial> {
        let Some(cluster_env) = self.clusters.get(cluster) else {
            return Err(ClusterDenial::UnknownCluster);
        };
        if *cluster_env != environment {
            return Err(ClusterDenial::EnvironmentMismatch);
        }
        if !key_clusters.is_empty() && !key_clusters.iter().any(|c| c == cluster) {
            return Err(ClusterDenial::NotAllowed);
        }
        if let Some(bindings) = &self.bindings {
            if !bindings
                .iter()
                .any(|b| self.binding_applies(b, environment, Some(cluster)))
            {
                return Err(ClusterDenial::NotAllowed);
            }
        }
        Ok(())
    }

    /// Clusters of `environment` a key narrowed to `key_clusters` can reach, with the scopes it
    /// has in each.
    pub fn reachable_clusters(
        &self,
        requested: &Scopes,
        environment: Environment,
        key_clusters: &[String],
    ) -> Vec<(String, Scopes)> {
        self.clusters
            .iter()
            .filter(|(name, _)| self.check_cluster(name, environment, key_clusters).is_ok())
            .map(|(name, _)| {
                (
                    name.clone(),
                    self.effective(requested, environment, Some(name)),
                )
            })
            .filter(|(_, scopes)| !scopes.is_empty())
            .collect()
    }
}

/// `a ∩ b`, where `admin:all` on either side stands for every scope.
pub fn intersect(a: &Scopes, b: &Scopes) -> Scopes {
    if a.contains(Scope::AdminAll) && b.contains(Scope::AdminAll) {
        return [Scope::AdminAll].into_iter().collect();
    }
    Scope::ALL
        .iter()
        .copied()
        .filter(|s| *s != Scope::AdminAll && a.grants(*s) && b.grants(*s))
        .collect()
}

/// Makes every replica re-read the keys whose access just changed: at once here and, with
/// Redis, on the others (within 30 s without it). `service_account_id: None` means every key of
/// the workspace (cluster changes).
pub async fn refresh_keys(
    app: &crate::app::App,
    workspace_id: &str,
    service_account_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    let key_ids: Vec<(String,)> = sqlx::query_as(
        "SELECT key_id FROM api_keys WHERE workspace_id = $1 AND ($2 IS NULL OR service_account_id = $2)",
    )
    .bind(workspace_id)
    .bind(service_account_id)
    .fetch_all(app.db.pool())
    .await?;
    for (key_id,) in key_ids {
        app.authenticator
            .invalidate(&statuspulse_api::key::KeyId::from_trusted(key_id.clone()));
        app.fanout.publish_key_change(&key_id).await;
    }
    Ok(())
}

/// The role bindings of an SSO group (the `group` principal): what each of its members is
/// granted. Fails closed like [`load_context`].
pub async fn group_bindings(
    pool: &AnyPool,
    workspace_id: &str,
    group: &str,
) -> Result<Vec<Binding>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT scopes, environment_clusters FROM role_bindings \
         WHERE workspace_id = $1 AND principal_type = 'group' AND principal_id = $2",
    )
    .bind(workspace_id)
    .bind(group)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(scopes, clusters)| {
            Ok(Binding {
                scopes: crate::platform::db::stored_scopes(&scopes)?,
                clusters: crate::platform::db::stored_list("environment_clusters", &clusters)?,
            })
        })
        .collect()
}

/// Loads the clusters of a workspace and, for a service account, its bindings.
pub async fn load_context(
    pool: &AnyPool,
    workspace_id: &str,
    service_account_id: Option<&str>,
) -> Result<AccessContext, sqlx::Error> {
    let clusters: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, environment FROM environment_clusters WHERE workspace_id = $1",
    )
    .bind(workspace_id)
    .fetch_all(pool)
    .await?;
    let clusters = clusters
        .into_iter()
        .filter_map(|(name, env)| Some((name, env.parse().ok()?)))
        .collect();
    let bindings = match service_account_id {
        None => None,
        Some(sa) => {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT scopes, environment_clusters FROM role_bindings \
                 WHERE workspace_id = $1 AND principal_type = 'service_account' AND principal_id = $2",
            )
            .bind(workspace_id)
            .bind(sa)
            .fetch_all(pool)
            .await?;
            // A binding that does not read back fails closed: an empty cluster list would mean
            // every cluster.
            let bindings = rows
                .into_iter()
                .map(|(scopes, clusters)| {
                    Ok(Binding {
                        scopes: crate::platform::db::stored_scopes(&scopes)?,
                        clusters: crate::platform::db::stored_list(
                            "environment_clusters",
                            &clusters,
                        )?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?;
            Some(bindings)
        }
    };
    Ok(AccessContext { clusters, bindings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(names: &[&str]) -> Scopes {
        Scopes::parse(names.iter().copied()).unwrap()
    }

    fn context() -> AccessContext {
        AccessContext {
            clusters: [
                ("eu-prod-1".to_owned(), Environment::Live),
                ("us-prod-1".to_owned(), Environment::Live),
                ("eu-sandbox".to_owned(), Environment::Test),
            ]
            .into_iter()
            .collect(),
            bindings: Some(vec![
                Binding {
                    scopes: scopes(&["read:checks"]),
                    clusters: vec![],
                },
                Binding {
                    scopes: scopes(&["write:alerts"]),
                    clusters: vec!["eu-prod-1".into()],
                },
            ]),
        }
    }

    #[test]
    fn only_bound_scopes_are_effective_and_cluster_bindings_apply_only_there() {
        let ctx = context();
        let asked = scopes(&["read:checks", "write:alerts", "write:checks"]);
        assert_eq!(
            ctx.effective(&asked, Environment::Live, None),
            scopes(&["read:checks", "write:alerts"])
        );
        assert_eq!(
            ctx.effective(&asked, Environment::Live, Some("eu-prod-1")),
            scopes(&["read:checks", "write:alerts"])
        );
        assert_eq!(
            ctx.effective(&asked, Environment::Live, Some("us-prod-1")),
            scopes(&["read:checks"])
        );
        assert_eq!(
            ctx.effective(&asked, Environment::Test, None),
            scopes(&["read:checks"])
        );
    }

    #[test]
    fn cluster_decisions_check_existence_environment_key_and_bindings() {
        let ctx = context();
        assert_eq!(
            ctx.check_cluster("eu-prod-1", Environment::Live, &[]),
            Ok(())
        );
        assert_eq!(
            ctx.check_cluster("nowhere", Environment::Live, &[]),
            Err(ClusterDenial::UnknownCluster)
        );
        assert_eq!(
            ctx.check_cluster("eu-prod-1", Environment::Test, &[]),
            Err(ClusterDenial::EnvironmentMismatch)
        );
        assert_eq!(
            ctx.check_cluster("us-prod-1", Environment::Live, &["eu-prod-1".into()]),
            Err(ClusterDenial::NotAllowed)
        );
        let only_eu = AccessContext {
            bindings: Some(vec![Binding {
                scopes: scopes(&["read:checks"]),
                clusters: vec!["eu-prod-1".into()],
            }]),
            ..context()
        };
        assert_eq!(
            only_eu.check_cluster("us-prod-1", Environment::Live, &[]),
            Err(ClusterDenial::NotAllowed)
        );
    }

    #[test]
    fn keys_without_a_service_account_are_not_narrowed_by_bindings() {
        let ctx = AccessContext {
            bindings: None,
            ..context()
        };
        let asked = scopes(&["admin:all"]);
        assert_eq!(
            ctx.effective(&asked, Environment::Live, Some("eu-prod-1")),
            asked
        );
    }

    #[test]
    fn admin_all_on_one_side_only_yields_the_other_side() {
        assert_eq!(
            intersect(&scopes(&["admin:all"]), &scopes(&["read:checks"])),
            scopes(&["read:checks"])
        );
        assert_eq!(
            intersect(&scopes(&["admin:all"]), &scopes(&["admin:all"])),
            scopes(&["admin:all"])
        );
        assert!(intersect(&scopes(&["read:checks"]), &Scopes::default()).is_empty());
    }
}
