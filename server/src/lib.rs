//! StatusPulse Auth server: API keys, service accounts, credential verification, SSO sign-in and
//! audit.
//!
//! [`Application::build`] wires everything from [`Settings`] and binds the listener, so tests
//! start the real server on port 0 exactly as `statuspulse-server serve` does. The layers, and
//! what may depend on what, are in `server/ARCHITECTURE.md`.

pub mod anomaly;
pub mod app;
pub mod audit;
pub mod authn;
pub mod authz;
pub mod console;
pub mod error;
pub mod http;
pub mod jobs;
pub mod management;
pub mod oauth;
pub mod openapi;
mod ops;
pub mod platform;
pub mod router;
pub mod signin;

pub use app::{bootstrap, build_state, Application};
pub use platform::clock::Clock;
pub use platform::config::Settings;
