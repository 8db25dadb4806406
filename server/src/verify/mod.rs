//! Credential verification: the hot path of every gateway and service.

mod authenticator;
pub(crate) mod routes;

pub use authenticator::{AuthFailure, Authenticator, Credential, Verification};
pub use routes::router;
