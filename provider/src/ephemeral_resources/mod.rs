//! Ephemeral resources (Terraform 1.10+), one module each: values minted for one Terraform run,
//! never stored in the plan or the state.

mod api_key;

pub use api_key::{ApiKeyEphemeralResource, EPHEMERAL_KEY_CLOSE_REASON};
