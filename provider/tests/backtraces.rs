//! tf-provider appends `Backtrace::capture()` to every diagnostic it builds itself (internal
//! errors, undecodable values) whenever RUST_BACKTRACE is set. `disable_backtraces`, which the
//! binary calls first thing, must stop that. This is its own test binary because the standard
//! library caches the backtrace setting per process at the first capture.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tf_provider::{Diagnostic, Diagnostics};

#[test]
fn library_diagnostics_carry_no_backtrace_after_disable_backtraces() {
    std::env::set_var("RUST_BACKTRACE", "1");
    std::env::set_var("RUST_LIB_BACKTRACE", "1");
    terraform_provider_statuspulse::disable_backtraces();

    let mut diags = Diagnostics::default();
    diags.internal_error();
    diags.root_error("Could not decode", "bad msgpack");
    assert_eq!(diags.errors[0].detail, "");
    assert_eq!(diags.errors[1].detail, "bad msgpack");
    assert_eq!(Diagnostic::root_short("x").detail, "");
}
