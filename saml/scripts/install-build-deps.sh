#!/usr/bin/env bash
# Debian packages needed to BUILD statuspulse-saml (and so the server once it depends on it):
# samael binds libxmlsec1 and libxml2 with bindgen, which needs libclang and pkg-config.
# Idempotent: does nothing when the headers, libclang and pkg-config are already there.
# Called by scripts/install-test-tools.sh; the quickstart (and any image that builds the server)
# must call it too.
set -euo pipefail

log() { echo "install-saml-build-deps: $*" >&2; }

have_all() {
  command -v pkg-config >/dev/null 2>&1 &&
    pkg-config --exists xmlsec1 libxml-2.0 2>/dev/null &&
    # libclang itself (what bindgen loads), not libclang-cpp, which other packages bring.
    compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null ||
    compgen -G '/usr/lib/llvm-*/lib/libclang-[0-9]*.so*' >/dev/null ||
    compgen -G '/usr/lib/*/libclang-[0-9]*.so*' >/dev/null ||
    compgen -G '/usr/lib/*/libclang.so*' >/dev/null
}

if have_all; then
  log "libxmlsec1-dev, libxml2-dev, libclang-dev and pkg-config already installed"
  exit 0
fi
log "installing Debian libxml2-dev libxmlsec1-dev libclang-dev pkg-config"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  libxml2-dev libxmlsec1-dev libclang-dev pkg-config >/dev/null
