//! The read, import and delete steps that every StatusPulse object handles the same way, so each
//! resource module only says what is particular to it.

use serde::de::DeserializeOwned;
use tf_provider::{AttributePath, Diagnostics};

use crate::client::ApiClient;
use crate::diag::DiagnosticsExt;
use crate::model::{IdKind, ObjectId};

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
    match client.get::<T>(&target.path(id)).await {
        Ok(api) => Some(api),
        Err(err) if err.is_not_found() => None,
        Err(err) => {
            diags.api_error(&format!("read the {}", target.noun), &err);
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
            diags.add("Invalid import id", detail, AttributePath::root());
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
