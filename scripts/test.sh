#!/usr/bin/env bash
# Every test, as CI runs it: formatting, lints, generated docs, the server suite on SQLite and
# PostgreSQL, and the provider's acceptance tests on Terraform 1.0.3, 1.11.4 and 1.15.5.
# Installs what it needs (protoc, the Terraform versions) into .tools/; needs cargo, python3 and
# the PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379) the machine runs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CHECKPOINT_DISABLE=1

step() { printf '\n==> %s\n' "$*" >&2; }

step "Checking PostgreSQL and Redis"
ensure_service() {
  local name=$1 check=$2 start=$3
  if ! eval "$check" >/dev/null 2>&1; then
    echo "$name is not answering; starting it" >&2
    eval "$start" >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do eval "$check" >/dev/null 2>&1 && return 0; sleep 1; done
    echo "$name is required by the tests and could not be started" >&2
    exit 1
  fi
}
ensure_service PostgreSQL "pg_isready -h 127.0.0.1 -p 5432" \
  'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
ensure_service Redis "redis-cli -h 127.0.0.1 -p 6379 ping" \
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'

step "Installing test tools"
bash scripts/install-test-tools.sh
export PATH="$ROOT/.tools/bin:$PATH"

step "Formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p statuspulse-server --all-targets --features test-clock -- -D warnings

step "Dependencies: none unused, only permitted licenses and sources"
# cargo-machete and cargo-deny, from crates.io into .tools/, pinned; the quickstart does not need them.
for tool in cargo-machete@0.9.2 cargo-deny@0.20.2; do
  name="${tool%@*}"
  if ! "$name" --version 2>/dev/null | grep -q "${tool#*@}"; then
    echo "installing $tool (cargo install, a few minutes on a fresh machine)" >&2
    cargo install --quiet --locked --root "$ROOT/.tools" "$tool"
  fi
done
cargo machete
cargo deny --log-level error check licenses bans sources

step "Generated docs are up to date"
bash scripts/tf-docs.sh --check

step "Tests (server on SQLite and PostgreSQL, provider on three Terraform versions)"
# RUST_BACKTRACE=1 on purpose: no backtrace may reach a Terraform user even then.
RUST_BACKTRACE=1 cargo test --workspace -- --test-threads=2
