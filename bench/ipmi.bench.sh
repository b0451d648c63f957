#!/usr/bin/env bash
# IPMI benchmark: Crowbar's RMCP+ client vs ipmitool (lanplus, -C 3) against
# OpenIPMI ipmi_sim BMCs in a private network namespace pair, in the same run.
# Prints medians and ratios. Needs root, ipmi_sim and ipmitool. ~1 minute.
#   IPMI_BENCH_N (default 40)   sequential login+status+close operations per tool
#   IPMI_BENCH_BMCS (default 8) BMCs for the fan-out test
#   IPMI_BENCH_ROUNDS (default 10) fan-out rounds
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]] || ! command -v ipmi_sim >/dev/null || ! command -v ipmitool >/dev/null; then
  echo "ipmi bench: needs root, ipmi_sim and ipmitool; skipped" >&2
  exit 0
fi
exec node --import tsx bench/ipmi-bench.ts
