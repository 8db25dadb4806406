#!/usr/bin/env bash
# Generate the typed Python client from StatusPulse Auth's OpenAPI document and
# check that it compiles and type-checks.
#
#   generate_client.sh <openapi.json> <out dir> [<python venv bin dir>]
#
# The venv bin dir (default: the bin dir of `python3` on PATH) must hold the
# pinned tools:
#   pip install openapi-python-client==0.29.1 mypy==2.4.1
# (openapi-python-client brings ruff, which it runs on the generated code).
# <out dir> is replaced; it ends up holding the `statuspulse_client` package,
# the directory client_smoke.py takes as its third argument.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 <openapi.json> <out dir> [<python venv bin dir>]" >&2
  exit 2
fi
doc=$1
out=$2
bin=${3:-$(dirname "$(command -v python3)")}
here=$(cd "$(dirname "$0")" && pwd)

py="$bin/python"
[ -x "$py" ] || py="$bin/python3"
[ -x "$py" ] || { echo "no python in $bin" >&2; exit 2; }
[ -x "$bin/openapi-python-client" ] || {
  echo "openapi-python-client is not installed in $bin (pip install openapi-python-client==0.29.1)" >&2
  exit 2
}
# The generator runs ruff (its dependency) from PATH on what it writes.
export PATH="$bin:$PATH"

"$bin/openapi-python-client" --version
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --fail-on-warning is not used: the document has operations with media types
# the generator cannot model (SAML metadata XML, NDJSON export); they are
# listed below, and their responses are left out of the client.
if ! "$bin/openapi-python-client" generate \
    --path "$doc" \
    --output-path "$out" \
    --config "$here/openapi-python-client.yaml" \
    --overwrite >"$log" 2>&1; then
  cat "$log" >&2
  echo "openapi-python-client generate failed" >&2
  exit 1
fi
cat "$log"
[ -d "$out/statuspulse_client" ] || { echo "no statuspulse_client package in $out" >&2; exit 1; }

echo "compileall: $out/statuspulse_client"
"$py" -m compileall -q "$out/statuspulse_client"

if "$py" -m mypy --version >/dev/null 2>&1; then
  echo "mypy --strict: $out/statuspulse_client"
  (cd "$out" && "$py" -m mypy --strict --no-incremental statuspulse_client)
else
  echo "mypy not installed in $bin: skipped the type check (pip install mypy==2.4.1)"
fi
echo "client generated in $out"
