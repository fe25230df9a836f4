#!/usr/bin/env bash
# The project's one test command: every Rust test of the workspace, then the dashboard's browser
# tests (headless Chromium against the debug gateway binary, tests/browser/run.mjs).
#
# On a fresh Debian machine it installs what the browser tests need when it is missing:
# Chromium and Node.js with apt-get, playwright-core with `npm ci` (from the lockfile).
#
#   scripts/test.sh              # everything
#   SKIP_BROWSER=1 scripts/test.sh   # the Rust tests only
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

cargo test --workspace --locked

if [ "${SKIP_BROWSER:-0}" = 1 ]; then
  exit 0
fi

# The binary the browser tests drive (the black-box tests above have built it already).
cargo build -p sluice --locked

sudo_if_needed() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test.sh: installing ${missing[*]} with apt-get" >&2
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

SLUICE_BIN="$CARGO_TARGET_DIR/debug/sluice" CHROMIUM="$CHROMIUM" \
  node --test-reporter=spec tests/browser/run.mjs
