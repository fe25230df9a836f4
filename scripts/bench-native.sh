#!/usr/bin/env bash
# What translating a native provider costs the gateway, against an OpenAI-compatible provider in
# the same run: the simulated provider serves the same answers as OpenAI chat completions,
# Anthropic Messages and Gemini (`sluice mock-upstream`), and the gateway relays CONC streams at
# once of TOKENS tokens each at full speed for DURATION, per API in turn, ROUNDS times
# interleaved. Reported: the gateway's CPU time per output token and per request (median of the
# rounds), and each native API's ratio to the OpenAI one.
#
#   scripts/bench-native.sh          # knobs: CONC (50), TOKENS (256), DURATION (10s), ROUNDS (3)
#
# The gateway is pinned to core 0, the provider and the load to core 1. Gemini's stream carries
# four tokens per event (as Google's does), so its per-token figure also counts fewer events.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cpu-per-token.sh

CONC=${CONC:-50}
TOKENS=${TOKENS:-256}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
MOCK_PORT=19200 GW_PORT=19201

cpu_setup
cat >"$WORK/providers.toml" <<TOML
[providers.openai]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[providers.anthropic]
kind = "anthropic"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
api_key = "bench"
[providers.gemini]
kind = "gemini"
base_url = "http://127.0.0.1:$MOCK_PORT/v1beta"
api_key = "bench"
[routes]
"openai" = [{ provider = "openai", model = "m" }]
"anthropic" = [{ provider = "anthropic", model = "m" }]
"gemini" = [{ provider = "gemini", model = "m" }]
TOML
cpu_start
cpu_measure openai openai:chat:openai anthropic:chat:anthropic gemini:chat:gemini
