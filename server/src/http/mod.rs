//! The HTTP edge: the accept loop, the request screen and error format, the `Caller` extractor,
//! the JSON extractor, idempotent creates (`Idempotency-Key`) and list pagination. Nothing here knows a feature; features use it.

pub mod auth;
pub mod idempotency;
pub mod json;
pub(crate) mod middleware;
pub mod pagination;
pub mod serve;

pub use auth::Caller;
pub use idempotency::Idempotency;
pub use json::Json;
pub use middleware::MAX_BODY_BYTES;
