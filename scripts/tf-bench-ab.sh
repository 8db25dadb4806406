#!/usr/bin/env bash
# A/B benchmark of two provider builds against one state (see scripts/tf-bench-ab.py):
#   scripts/tf-bench-ab.sh OLD_PROVIDER NEW_PROVIDER [COUNT]   # default 1000 API keys
# For example: build main, copy target/release/terraform-provider-statuspulse to /tmp/old,
# build the change, and compare /tmp/old with target/release/terraform-provider-statuspulse.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 OLD_PROVIDER NEW_PROVIDER [COUNT]" >&2; exit 2; }

bash "$ROOT/scripts/install-test-tools.sh"
cargo build --manifest-path "$ROOT/Cargo.toml" --release -p statuspulse-server

TERRAFORM="$ROOT/.tools/bin/terraform-1.11.4"
[ -x "$TERRAFORM" ] || TERRAFORM="$ROOT/.tools/bin/terraform-1.15.5"

exec "$ROOT/.tools/venv/bin/python" "$ROOT/scripts/tf-bench-ab.py" \
  "$ROOT/target/release/statuspulse-server" "$(realpath "$1")" "$(realpath "$2")" \
  "$TERRAFORM" "$ROOT/.tools" "${3:-1000}"
