//! The scope catalog and the environment a credential belongs to, from the shared API crate.
//!
//! Both are parsed at the edge; past it, code holds a [`Scope`] or an [`Environment`] and never a
//! free-form string.

pub use statuspulse_api::scopes::{Environment, Scope, ScopeKind, Scopes, UnknownScope};
