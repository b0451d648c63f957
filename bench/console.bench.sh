#!/usr/bin/env bash
# Console benchmark (bench/console-bench.ts): 1000 nodes in Chromium; time to
# first render side by side with the same tiles as static HTML served by
# nginx, SSE update latency, and a burst of transitions. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x /usr/bin/chromium ]]; then echo "console bench: /usr/bin/chromium missing (apt-get install chromium)" >&2; exit 1; fi
exec npx tsx bench/console-bench.ts "$@"
