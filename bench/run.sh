#!/usr/bin/env bash
# `npm run bench`: runs every bench/*.bench.sh (or those named as arguments:
# `npm run bench -- dhcp tftp`), each printing our server side by side with the
# reference servers and the ratios. Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
names=("$@")
if ((${#names[@]} == 0)); then
  for f in bench/*.bench.sh; do [[ -e "$f" ]] && names+=("$(basename "$f" .bench.sh)"); done
fi
status=0
for n in "${names[@]}"; do
  echo "=== bench: $n ==="
  bash "bench/$n.bench.sh" || { echo "bench $n failed" >&2; status=1; }
done
exit $status
