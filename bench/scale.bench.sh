#!/usr/bin/env bash
# Scale benchmark (bench/scale-bench.ts): 100, 1000 and 5000 simulated
# machines (SCALE_SIZES) from power-on to ready against a fresh appliance on
# loopback; machines/min, per-phase percentiles, appliance CPU/RSS, DB size,
# API and console latency. Needs root (simulated BMCs listen on UDP 623).
# Goal: 1000 machines in under 5 minutes, RSS < 300 MB, API p99 < 100 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx bench/scale-bench.ts "$@"
