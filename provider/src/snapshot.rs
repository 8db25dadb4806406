//! Refresh reads served from one listing per collection (issue 13, finding 7).
//!
//! A plan refreshes each resource with its own read, so a plan of 1,000 keys was 1,000 requests
//! (and hit the key's rate limit). Here the first [`DIRECT_READS`] reads of a collection in this
//! provider process go to the object itself, as before; from the next one on, the collection is
//! listed once (200 a page) and reads are answered from that listing. An id the listing does
//! not hold (created since, or never there) is read directly, so a deletion is still seen as a
//! 404. Any write through the client drops every listing: what this process changed is read
//! afresh.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Reads of a collection answered directly before it is listed: a plan of a few resources
/// costs no more than before.
pub const DIRECT_READS: u32 = 2;
/// Longest listing kept; a larger collection is read object by object.
pub const MAX_OBJECTS: usize = 50_000;

/// One collection's listing, loaded at most once.
#[derive(Default)]
pub struct Listing {
    reads: AtomicU32,
    objects: tokio::sync::OnceCell<Option<HashMap<String, Value>>>,
}

impl Listing {
    /// Counts a read; true when this one should be served from the listing.
    pub fn use_listing(&self) -> bool {
        self.reads.fetch_add(1, Ordering::Relaxed) >= DIRECT_READS
    }

    /// The listed object with `id`, loading the listing with `load` the first time (`None`
    /// from `load`: the collection could not be listed, and every read goes direct).
    pub async fn find<F, Fut>(&self, id: &str, load: F) -> Option<Value>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Option<HashMap<String, Value>>>,
    {
        self.objects
            .get_or_init(load)
            .await
            .as_ref()
            .and_then(|objects| objects.get(id).cloned())
    }
}

/// The listings of this process, by collection path.
#[derive(Default)]
pub struct Snapshots(Mutex<HashMap<String, Arc<Listing>>>);

impl Snapshots {
    pub fn listing(&self, collection: &str) -> Option<Arc<Listing>> {
        let mut listings = self.0.lock().ok()?;
        Some(listings.entry(collection.to_owned()).or_default().clone())
    }

    /// Forgets every listing (after a write).
    pub fn invalidate(&self) {
        if let Ok(mut listings) = self.0.lock() {
            listings.clear();
        }
    }
}
