//! The StatusPulse Terraform provider (`statuspulse/statuspulse`, plugin protocol 6), built on
//! `tf-provider`. The binary serves it to Terraform; `gen-docs` renders the registry docs from the
//! same schemas.

pub mod auth;
pub mod client;
pub mod data_sources;
pub mod diag;
pub mod docs;
pub mod ephemeral_resources;
pub mod exchange;
pub mod functions;
pub mod model;
pub mod plan;
pub mod provider;
pub mod resources;
pub mod schema;
pub mod snapshot;
pub mod state;
pub mod validate;

pub use provider::StatusPulseProvider;

/// Name under which Terraform knows the provider: resource types are `statuspulse_<name>`.
pub const PROVIDER_NAME: &str = "statuspulse";

/// Keeps Rust backtraces out of everything a user sees.
///
/// tf-provider appends `Backtrace::capture()` to every diagnostic it builds, and that captures
/// whenever `RUST_BACKTRACE`/`RUST_LIB_BACKTRACE` ask for it (CI and many shells set them). The
/// capture setting is read once and cached, so this must run first in `main`, before any thread
/// exists (which also makes changing the environment sound).
pub fn disable_backtraces() {
    std::env::remove_var("RUST_BACKTRACE");
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    // A panic would otherwise print its location and, with the variables above, a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unexpected internal error".to_owned());
        eprintln!("terraform-provider-statuspulse: internal error: {message}");
    }));
}
