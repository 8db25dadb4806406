#!/usr/bin/env bash
# The provider's whole gate: format, lints, unit tests, generated docs up to date, and the
# acceptance tests (real Terraform 1.0.3 / 1.11.4 / 1.15.5 against a real server on port 0).
# Installs its own tools; needs only cargo, python3 and (for protoc, once) apt-get.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install-test-tools.sh
cargo fmt -p terraform-provider-statuspulse -- --check
cargo clippy -p terraform-provider-statuspulse --all-targets -- -D warnings
bash scripts/tf-docs.sh --check
# RUST_BACKTRACE=1 on purpose: no backtrace may reach Terraform's output even then.
RUST_BACKTRACE=1 cargo test -p terraform-provider-statuspulse -- --test-threads=2
RUST_BACKTRACE=1 cargo test -p statuspulse-e2e --test acceptance -- --test-threads=2
