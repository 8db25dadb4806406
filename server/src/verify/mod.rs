//! Credential verification: the hot path of every gateway and service.

mod authenticator;
pub mod network;
mod per_thread;
pub(crate) mod routes;

pub use authenticator::{AuthFailure, Authenticator, Credential, Verification};
pub use network::{ClientNetwork, TrustedProxies};
pub use routes::router;
