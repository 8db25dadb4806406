#!/usr/bin/env bash
# StatusPulse quickstart: from a fresh clone to a working, Terraform-managed API key.
#
#   scripts/quickstart.sh            # leaves the server running and prints how to clean up
#   scripts/quickstart.sh --cleanup  # also destroys the resources and stops the server (CI)
#
# It builds both binaries, starts the server on its embedded SQLite default, bootstraps an admin
# key, installs the provider into a filesystem mirror (so a plain `terraform init` finds it),
# applies examples/quickstart, and proves the new key verifies against the server.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/.tools/quickstart"
CLEANUP=0
[ "${1:-}" = "--cleanup" ] && CLEANUP=1

say() { printf '\n==> %s\n' "$*" >&2; }

say "Installing tools (protoc, Terraform) into .tools/ if missing"
bash "$ROOT/scripts/install-test-tools.sh"
if command -v terraform >/dev/null 2>&1; then
  TERRAFORM="$(command -v terraform)"
else
  TERRAFORM="$ROOT/.tools/bin/terraform-1.15.5"
fi

# SAML sign-in verifies XML signatures with xmlsec1 (samael): its headers and libclang are
# needed to build the server (install-test-tools.sh runs this too; said here so it is not lost).
bash "$ROOT/saml/scripts/install-build-deps.sh"

say "Building statuspulse-server and terraform-provider-statuspulse"
cargo build --manifest-path "$ROOT/Cargo.toml" -p statuspulse-server -p terraform-provider-statuspulse
SERVER_BIN="$ROOT/target/debug/statuspulse-server"
PROVIDER_BIN="$ROOT/target/debug/terraform-provider-statuspulse"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/provider/Cargo.toml" | head -1)"

# A previous quickstart's server must not keep the database busy.
if [ -f "$WORK/server.pid" ]; then
  kill "$(cat "$WORK/server.pid")" 2>/dev/null || true
fi
rm -rf "$WORK"
mkdir -p "$WORK/server" "$WORK/tf"

say "Bootstrapping the first workspace and its admin key (embedded SQLite in $WORK/server)"
# Run from the server directory so the default database URL (statuspulse.db) lands there.
ADMIN_KEY="$(cd "$WORK/server" && "$SERVER_BIN" bootstrap --workspace-name quickstart 2>"$WORK/bootstrap.log")"
(umask 077 && printf '%s\n' "$ADMIN_KEY" >"$WORK/admin.key")

say "Starting the server"
(cd "$WORK/server" && STATUSPULSE_LISTEN=127.0.0.1:0 NO_COLOR=1 \
  exec "$SERVER_BIN" serve >"$WORK/server.out" 2>"$WORK/server.log") &
echo $! >"$WORK/server.pid"
URL=""
for _ in $(seq 1 100); do
  URL="$(grep -o 'listening on http://[0-9.:]*' "$WORK/server.log" 2>/dev/null | head -1 | sed 's/listening on //' || true)"
  [ -n "$URL" ] && break
  sleep 0.2
done
if [ -z "$URL" ]; then
  echo "the server did not start; see $WORK/server.log" >&2
  exit 1
fi
echo "server: $URL (pid $(cat "$WORK/server.pid"))" >&2

say "Installing the provider into a filesystem mirror"
MIRROR="$WORK/mirror"
PLATFORM_DIR="$MIRROR/registry.terraform.io/statuspulse/statuspulse/$VERSION/linux_amd64"
mkdir -p "$PLATFORM_DIR"
cp "$PROVIDER_BIN" "$PLATFORM_DIR/terraform-provider-statuspulse_v$VERSION"
cat >"$WORK/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/statuspulse/statuspulse"]
  }
  direct {
    exclude = ["registry.terraform.io/statuspulse/statuspulse"]
  }
}
EOF

export TF_CLI_CONFIG_FILE="$WORK/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export STATUSPULSE_ENDPOINT="$URL" STATUSPULSE_API_KEY="$ADMIN_KEY"
cp "$ROOT"/examples/quickstart/*.tf "$WORK/tf/"

say "terraform init && terraform apply (examples/quickstart)"
"$TERRAFORM" -chdir="$WORK/tf" init -input=false -no-color >/dev/null
"$TERRAFORM" -chdir="$WORK/tf" apply -input=false -auto-approve -no-color

say "Proving the new key verifies: GET /v1/auth/verify"
NEW_KEY="$("$TERRAFORM" -chdir="$WORK/tf" output -raw api_key)"
STATUS="$(curl -s -o "$WORK/verify.json" -w '%{http_code}' -H "Authorization: Bearer $NEW_KEY" "$URL/v1/auth/verify")"
cat "$WORK/verify.json" >&2
echo >&2
if [ "$STATUS" != "200" ]; then
  echo "verify answered $STATUS, expected 200" >&2
  exit 1
fi
echo "verify: 200 OK for key $("$TERRAFORM" -chdir="$WORK/tf" output -raw api_key_id)" >&2

if [ "$CLEANUP" = 1 ]; then
  say "Cleaning up"
  "$TERRAFORM" -chdir="$WORK/tf" destroy -input=false -auto-approve -no-color >/dev/null
  kill "$(cat "$WORK/server.pid")"
  echo "destroyed the quickstart resources and stopped the server" >&2
  exit 0
fi

cat >&2 <<EOF

Quickstart complete. The server is still running at $URL.
Try it:
  export TF_CLI_CONFIG_FILE=$WORK/terraformrc STATUSPULSE_ENDPOINT=$URL
  export STATUSPULSE_API_KEY=\$(cat $WORK/admin.key)
  $TERRAFORM -chdir=$WORK/tf plan
Clean up:
  $TERRAFORM -chdir=$WORK/tf destroy -auto-approve   # revokes the key (with the variables above)
  kill $(cat "$WORK/server.pid") && rm -rf $WORK
EOF
