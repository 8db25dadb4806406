//! Authentication: who is calling. API key verification (the hot path of every gateway and
//! service), the cache fan-out between replicas, and the [`Principal`] that authorization and audit see.

pub mod access_token;
mod authenticator;
pub mod fanout;
mod per_thread;
pub mod principal;
pub(crate) mod routes;
pub mod session;
pub mod signing;
pub mod token;

pub use authenticator::{AuthFailure, Authenticator, Credential, Verification};
pub use principal::Principal;
pub use routes::router;
