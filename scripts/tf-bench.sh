#!/usr/bin/env bash
# Benchmark of issue 3 (see scripts/tf-bench.py for what is measured):
#   scripts/tf-bench.sh [COUNT]      # default 100 resources per case
# Builds the server and provider in release mode (what users run), installs the tools, and
# prints one table. Terraform: /usr/local/bin/terraform (1.11.4) when present, else 1.15.5.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROFILE="${BENCH_PROFILE:-release}"

bash "$ROOT/scripts/install-test-tools.sh"
cargo build --manifest-path "$ROOT/Cargo.toml" --profile "$PROFILE" \
  -p statuspulse-server -p terraform-provider-statuspulse
DIR="$ROOT/target/$PROFILE"
[ "$PROFILE" = dev ] && DIR="$ROOT/target/debug"

TERRAFORM="$ROOT/.tools/bin/terraform-1.11.4"
[ -x "$TERRAFORM" ] || TERRAFORM="$ROOT/.tools/bin/terraform-1.15.5"

exec "$ROOT/.tools/venv/bin/python" "$ROOT/scripts/tf-bench.py" \
  "$DIR/statuspulse-server" "$DIR/terraform-provider-statuspulse" "$TERRAFORM" "$ROOT/.tools" "${1:-100}"
