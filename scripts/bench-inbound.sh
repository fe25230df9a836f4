#!/usr/bin/env bash
# What serving the inbound APIs costs the gateway, against chat completions in the same run:
# `sluice bench` streams the same answers from the simulated provider through the gateway as
# chat completions (the baseline), as Responses and Messages translated through chat
# completions (an OpenAI-compatible provider), and as Responses and Messages passed through
# (a provider with `responses = true`, and an Anthropic one). CONC streams at once of TOKENS
# tokens each at full speed for DURATION, per case in turn, ROUNDS times interleaved.
# Reported: the gateway's CPU time per output token and per request (median of the rounds), and
# each case's ratio to chat completions.
#
#   scripts/bench-inbound.sh         # knobs: CONC (50), TOKENS (256), DURATION (10s), ROUNDS (3)
#
# The gateway is pinned to core 0, the provider and the load to core 1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cpu-per-token.sh

CONC=${CONC:-50}
TOKENS=${TOKENS:-256}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
MOCK_PORT=19210 GW_PORT=19211

cpu_setup
cat >"$WORK/providers.toml" <<TOML
[providers.chat]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[providers.responses]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
responses = true
[providers.anthropic]
kind = "anthropic"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
api_key = "bench"
[routes]
"translated" = [{ provider = "chat", model = "m" }]
"responses" = [{ provider = "responses", model = "m" }]
"anthropic" = [{ provider = "anthropic", model = "m" }]
TOML
cpu_start
cpu_measure chat chat:chat:translated \
  responses-translated:responses:translated messages-translated:messages:translated \
  responses-passthrough:responses:responses messages-passthrough:messages:anthropic
