#!/usr/bin/env bash
# Barclamps benchmark: run-list endpoint vs nginx serving the same bytes
# statically, and REST IP allocation rate under concurrency (loopback only).
# env: REPEATS=3 NODES=150 REQS=2000 CONC=16 ALLOCS=120
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nginx >/dev/null || { echo "nginx missing (apt-get install nginx-light)" >&2; exit 1; }
exec node --import tsx bench/barclamps-bench.ts
