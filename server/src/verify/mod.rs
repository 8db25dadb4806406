//! Credential verification: the hot path of every gateway and service.

mod authenticator;
mod per_thread;
pub(crate) mod routes;

pub use authenticator::{AuthFailure, Authenticator, Credential, Verification};
pub use routes::router;
