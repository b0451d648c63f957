#!/usr/bin/env bash
# The demo without qemu (scripts/demo.sh calls it when qemu-system-x86_64 is
# missing, or with DEMO_SIM_ONLY=1): an appliance on loopback and
# $DEMO_SIM_NODES simulated machines in 2 racks (docs/simulator.md) that PXE
# boot, register, get allocated, install (DEMO_SIM_INSTALL seconds) and join;
# one of them fails its install to show `problem`. Prints the API URL and
# token, then node states as they change. Ctrl-C, SIGTERM or DEMO_SECONDS=N (after N
# seconds) stops everything.
# Needs root (simulated BMCs listen on UDP 623). Loopback only.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-watch.sh
: "${DEMO_SIM_NODES:=20}" "${DEMO_SIM_INSTALL:=10}" "${DEMO_SIM_PORT:=18080}"
dir=$(mktemp -d /tmp/crowbar-demo-sim.XXXXXX)
mkdir -p "$dir/img"
# A placeholder discovery image when the real one is not built (the simulator reads only a budget of it).
if [[ -f /var/cache/crowbar/discovery/image/vmlinuz ]]; then cp /var/cache/crowbar/discovery/image/{vmlinuz,initrd.img} "$dir/img/"
else head -c 262144 /dev/urandom > "$dir/img/vmlinuz"; head -c 524288 /dev/urandom > "$dir/img/initrd.img"; fi
cat > "$dir/config.json" <<EOC
{
  "data_dir": "$dir/data", "log_level": "warn",
  "admin_network": { "interface": "lo", "address": "127.0.0.1/16", "domain": "demo.test",
                     "host_range_start": "127.0.1.1", "host_range_end": "127.0.127.254" },
  "discovery": { "image_dir": "$dir/img", "poll_seconds": 1 },
  "services": {
    "dhcp": { "bind": "127.0.0.1", "port": 10067, "range_start": "127.0.128.1", "range_end": "127.0.255.254" },
    "tftp": { "bind": "127.0.0.1", "port": 10069, "requests_per_second": 500 },
    "dns": { "enabled": false }, "ntp": { "enabled": false },
    "http": { "bind": "127.0.0.1", "port": $DEMO_SIM_PORT }
  }
}
EOC
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "== stopping the simulator and the appliance"
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  wait 2> /dev/null
  rm -rf "$dir"
  exit 0
}
trap cleanup INT TERM EXIT
node --import tsx src/cli.ts serve --config "$dir/config.json" > "$dir/appliance.log" 2>&1 &
pids+=($!)
API="http://127.0.0.1:$DEMO_SIM_PORT"
for _ in $(seq 1 100); do curl -sf "$API/api/v1/health" > /dev/null && break; sleep 0.3; done
TOKEN=$(cat "$dir/data/admin.token")
PASSWORD=$(cat "$dir/data/admin.password" 2> /dev/null)
node --import tsx src/cli.ts simulate --nodes "$DEMO_SIM_NODES" --racks 2 --url "$API" --token "$TOKEN" \
  --dhcp 127.0.0.1:10067 --tftp-port 10069 --install-seconds "$DEMO_SIM_INSTALL" --rate 2 \
  --faults "fail-install=$(awk "BEGIN{print 1/$DEMO_SIM_NODES}")" --keep > "$dir/simulate.log" 2>&1 &
pids+=($!)
cat <<EOM

== Crowbar demo with $DEMO_SIM_NODES simulated machines (no qemu here; docs/simulator.md)
   API / console : $API/
   console login : admin / $PASSWORD
   admin token   : $TOKEN
   try           : curl -s -H "Authorization: Bearer $TOKEN" $API/api/v1/nodes
   simulator     : $dir/simulate.log   appliance log: $dir/appliance.log
   Ctrl-C (or SIGTERM) stops everything and cleans up.

EOM
demo_watch "$API" "$TOKEN" counts
