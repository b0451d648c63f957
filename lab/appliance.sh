#!/usr/bin/env bash
# Run the Crowbar appliance inside the lab namespace, on the bridge address.
# appliance.sh start | stop | status
#   data dir $CBLAB_STATE/appliance, config $CBLAB_STATE/appliance/config.json,
#   log $CBLAB_STATE/appliance.log; the admin token lands in <data dir>/admin.token.
# Admin network: $CBLAB_NET.0/24, appliance .1, node addresses .10-.127, DHCP pool
# .128-.199, BMCs .200-.249 (lab convention). HTTP on port 80 of every lab address.
# CBLAB_DHCP_RELAYS: extra relay pools (JSON list); CBLAB_SIM=1 adds the pool of the
# simulated machines of lab/sim.sh (relay 127.0.0.10, $CBLAB_SIM_POOL.1-250).
# CBLAB_IMAGE / CBLAB_ROOT_IMAGE: the discovery image and root image build caches.
source "$(dirname "$0")/lib.sh"
lab_need_root
pf="$CBLAB_STATE/appliance.pid"
A="$CBLAB_STATE/appliance"
case "${1:-}" in
  stop) lab_kill_pidfile "$pf"; exit 0 ;;
  status) if lab_pid_alive "$pf"; then echo running; else echo stopped; fi; exit 0 ;;
  start) ;;
  *) lab_die "usage: appliance.sh start|stop|status" ;;
esac
lab_pid_alive "$pf" && { lab_log "appliance already running"; exit 0; }
mkdir -p "$A"
relays=${CBLAB_DHCP_RELAYS:-[]}
if [[ "${CBLAB_SIM:-0}" == 1 ]]; then
  sim="{\"subnet\": \"127.0.0.0/16\", \"range_start\": \"$CBLAB_SIM_POOL.1\", \"range_end\": \"$CBLAB_SIM_POOL.250\"}"
  if [[ "$relays" == "[]" ]]; then relays="[$sim]"; else relays="${relays%]}, $sim]"; fi
fi
cat > "$A/config.json" <<EOC
{
  "data_dir": "$A",
  "log_level": "${CBLAB_LOG_LEVEL:-info}",
  "admin_network": { "interface": "$CBLAB_BR", "address": "$CBLAB_SERVER_IP/24", "domain": "lab.crowbar.test",
                     "host_range_start": "$CBLAB_NET.10", "host_range_end": "$CBLAB_NET.127" },
  "discovery": { "image_cache": "${CBLAB_IMAGE:-/var/cache/crowbar/discovery/image}",
                 "root_image_cache": "${CBLAB_ROOT_IMAGE:-/var/cache/crowbar/root-image/image}" },
  "services": {
    "dhcp": { "range_start": "$CBLAB_NET.128", "range_end": "$CBLAB_NET.199", "relays": $relays },
    "http": { "bind": "0.0.0.0", "port": 80, "public_url": "http://$CBLAB_SERVER_IP" }
  }
}
EOC
cd "$ROOT_DIR"
ip netns exec "$CBLAB_NS" setsid node --import tsx src/cli.ts serve --config "$A/config.json" >> "$CBLAB_STATE/appliance.log" 2>&1 < /dev/null &
echo $! > "$pf"
for _ in $(seq 1 150); do
  grep -q 'crowbar is running' "$CBLAB_STATE/appliance.log" 2>/dev/null && break
  lab_pid_alive "$pf" || { tail -20 "$CBLAB_STATE/appliance.log" >&2; lab_die "appliance exited"; }
  sleep 0.2
done
grep -q 'crowbar is running' "$CBLAB_STATE/appliance.log" || lab_die "appliance did not start (see $CBLAB_STATE/appliance.log)"
lab_log "appliance running in $CBLAB_NS at http://$CBLAB_SERVER_IP (pid $(cat "$pf"))"
