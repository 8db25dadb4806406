#!/usr/bin/env bash
# Regenerates the registry docs (docs/) from the provider's schemas and examples/.
#   scripts/tf-docs.sh           # regenerate
#   scripts/tf-docs.sh --check   # regenerate, then fail if docs/ changed (CI)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo run --quiet --manifest-path "$ROOT/Cargo.toml" -p terraform-provider-statuspulse -- gen-docs "$ROOT"
if [ "${1:-}" = "--check" ]; then
  git -C "$ROOT" add -N docs >/dev/null 2>&1 || true
  if ! git -C "$ROOT" diff --exit-code -- docs/; then
    echo "docs/ is out of date: run scripts/tf-docs.sh and commit the result" >&2
    exit 1
  fi
fi
