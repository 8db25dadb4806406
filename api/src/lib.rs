//! The StatusPulse Auth wire contract, shared by the server and its clients.
//!
//! Everything here is plain data and pure functions: what a scope, an id, an API key and a valid
//! field are, and the shape of an error body. The server builds its storage and HTTP layers on it;
//! the Terraform provider uses the same rules at plan time, so the two cannot disagree.

#![warn(missing_docs)]

pub mod ids;
pub mod key;
pub mod problem;
pub mod scopes;
pub mod v1;
pub mod validate;

pub use problem::Problem;
pub use scopes::{Environment, Scope, ScopeKind, Scopes, UnknownScope};
pub use validate::FieldError;
