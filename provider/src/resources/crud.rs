//! The read, import and delete steps that every StatusPulse object handles the same way, so each
//! resource module only says what is particular to it.

use serde::de::DeserializeOwned;
use tf_provider::{AttributePath, Diagnostics};

use crate::client::ApiClient;
use crate::diag::DiagnosticsExt;
use crate::model::{
    AccessPolicy, AuditSink, EnvironmentCluster, IdKind, OAuthClient, ObjectId, ServiceAccount,
    SsoConnection, WorkloadIdentity,
};

/// Where a kind of object lives in the API and how its ids look.
pub struct ImportTarget {
    pub kind: IdKind,
    pub noun: &'static str,
    pub collection: &'static str,
}

impl ImportTarget {
    pub fn path(&self, id: &str) -> String {
        format!("{}/{id}", self.collection)
    }

    /// Deletes the object; one already gone is what destroy wanted anyway.
    pub async fn delete(
        &self,
        client: &ApiClient,
        diags: &mut Diagnostics,
        id: &str,
    ) -> Option<()> {
        match client.delete(&self.path(id)).await {
            Ok(()) => Some(()),
            Err(err) if err.is_not_found() => Some(()),
            Err(err) => {
                diags.api_error(&format!("delete the {}", self.noun), &err);
                None
            }
        }
    }
}

/// Reads an object for refresh. `None` without a diagnostic means it was deleted outside
/// Terraform: the null state makes Terraform report the drift and plan to recreate it.
pub async fn read_or_gone<T: DeserializeOwned>(
    client: &ApiClient,
    diags: &mut Diagnostics,
    target: &ImportTarget,
    id: &str,
) -> Option<T> {
    match client.read::<T>(target.collection, id).await {
        Ok(api) => Some(api),
        Err(err) if err.is_not_found() => None,
        Err(err) => {
            diags.api_error(&format!("read the {}", target.noun), &err);
            None
        }
    }
}

/// Objects whose name is unique in a workspace, so import can find them by it.
pub trait Named {
    fn name(&self) -> &str;
}

impl Named for ServiceAccount {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for EnvironmentCluster {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for SsoConnection {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for OAuthClient {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for AccessPolicy {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for crate::model::AnomalyRule {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for AuditSink {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for WorkloadIdentity {
    fn name(&self) -> &str {
        &self.name
    }
}

/// Pages through `collection` until the name matches.
pub async fn find_by_name<T: DeserializeOwned + Named>(
    client: &ApiClient,
    collection: &str,
    name: &str,
) -> Result<Option<T>, crate::client::ApiError> {
    let mut found = None;
    client
        .visit_pages(collection, |item: T| {
            let matches = item.name() == name;
            if matches {
                found = Some(item);
            }
            matches
        })
        .await?;
    Ok(found)
}

/// Imports by object id, or by name as `name:<name>` (names are unique in a workspace).
pub async fn import_by_id_or_name<T: DeserializeOwned + Named>(
    client: &ApiClient,
    diags: &mut Diagnostics,
    target: &ImportTarget,
    id: &str,
) -> Option<T> {
    let Some(name) = id.strip_prefix("name:") else {
        return import_by_id(client, diags, target, id).await;
    };
    match find_by_name(client, target.collection, name).await {
        Ok(Some(found)) => Some(found),
        Ok(None) => {
            diags.add(
                format!("Cannot import a missing {}", target.noun),
                format!(
                    "No {} named `{name}` exists in the provider key's workspace.",
                    target.noun
                ),
                AttributePath::root(),
            );
            None
        }
        Err(err) => {
            diags.api_error(&format!("import the {}", target.noun), &err);
            None
        }
    }
}

/// Reads an object for `terraform import`, checking the id's shape first.
pub async fn import_by_id<T: DeserializeOwned>(
    client: &ApiClient,
    diags: &mut Diagnostics,
    target: &ImportTarget,
    id: &str,
) -> Option<T> {
    let id = match ObjectId::parse(target.kind, id) {
        Ok(id) => id,
        Err(detail) => {
            diags.add(
                "Invalid import id",
                format!(
                    "{detail} Find the id with `GET {}` (or, for API keys, the \
                     `statuspulse_api_keys` data source); objects with unique names also import \
                     as `name:<name>`.",
                    target.collection
                ),
                AttributePath::root(),
            );
            return None;
        }
    };
    match client.get::<T>(&target.path(id.as_str())).await {
        Ok(api) => Some(api),
        Err(err) if err.is_not_found() => {
            diags.add(
                format!("Cannot import a missing {}", target.noun),
                format!(
                    "No {} `{id}` exists in the provider key's workspace.",
                    target.noun
                ),
                AttributePath::root(),
            );
            None
        }
        Err(err) => {
            diags.api_error(&format!("import the {}", target.noun), &err);
            None
        }
    }
}
