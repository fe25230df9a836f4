#!/usr/bin/env bash
# The project's one test command: every Rust test of the workspace, then the official SDKs
# against the debug gateway binary (tests/sdk: Python's unittest, and tests/sdk/node with
# Node's test runner), then the dashboard's browser tests (headless Chromium,
# tests/browser/run.mjs).
#
# On a fresh Debian machine it installs what these need when it is missing: the SDKs in a
# virtualenv (tests/sdk/.venv, pinned in tests/sdk/requirements.txt), Chromium and Node.js with
# apt-get, the Node SDK and playwright-core with `npm ci` (from their lockfiles).
#
#   scripts/test.sh              # everything
#   SKIP_BROWSER=1 scripts/test.sh   # the Rust and SDK tests only
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

cargo test --workspace --locked

# The binary the SDK and browser tests drive (the black-box tests above have built it already).
cargo build -p sluice --locked

sudo_if_needed() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

VENV=tests/sdk/.venv
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    echo "test.sh: installing python3-venv with apt-get" >&2
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/sdk/requirements.txt
(cd tests/sdk && SLUICE_BIN="$CARGO_TARGET_DIR/debug/sluice" ../../"$VENV"/bin/python -m unittest -v)

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ "${SKIP_BROWSER:-0}" = 1 ] || [ -x "$CHROMIUM" ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test.sh: installing ${missing[*]} with apt-get" >&2
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The official OpenAI Node SDK (tests/sdk/node, its version in package-lock.json).
if [ ! -f tests/sdk/node/node_modules/openai/package.json ]; then
  (cd tests/sdk/node && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd tests/sdk/node && SLUICE_BIN="$CARGO_TARGET_DIR/debug/sluice" node --test-reporter=spec --test)

if [ "${SKIP_BROWSER:-0}" = 1 ]; then
  exit 0
fi

if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

SLUICE_BIN="$CARGO_TARGET_DIR/debug/sluice" CHROMIUM="$CHROMIUM" \
  node --test-reporter=spec tests/browser/run.mjs
