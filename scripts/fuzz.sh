#!/usr/bin/env bash
# Coverage-guided fuzzing of the server's input edges (`server/fuzz/`): the key parser, the
# Authorization header, and every write route's body and every list route's query string, through
# the real router on a real database. Each target runs for SECONDS (default 600); any panic, 5xx
# or non-problem+json refusal stops it with the input saved under server/fuzz/artifacts/.
#
#   scripts/fuzz.sh                 # every target, 10 minutes each, on SQLite
#   scripts/fuzz.sh 60 key_parse    # one target for a minute
#   STATUSPULSE_FUZZ_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<empty db> scripts/fuzz.sh
#
# Needs a nightly toolchain (cargo fuzz builds with sanitizers); installs cargo-fuzz from
# crates.io when missing. The test suite runs the same checks briefly on stable
# (server/tests/fuzz_smoke.rs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/server"
SECONDS_EACH="${1:-600}"
shift || true
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(key_parse authorization_header api_request)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

for target in "${TARGETS[@]}"; do
  echo "==> fuzzing $target for ${SECONDS_EACH}s" >&2
  mkdir -p "fuzz/corpus/$target"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" -dict=fuzz/dict/api.dict -max_len=4096 \
    -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
done
