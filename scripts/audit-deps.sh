#!/usr/bin/env bash
# Security advisories for every dependency (cargo deny's RustSec check). Needs the RustSec
# advisory database, fetched from GitHub; run it where that is reachable (scripts/test.sh checks
# licenses, bans and sources offline on every run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny@0.20.2
cargo deny --workspace check advisories
