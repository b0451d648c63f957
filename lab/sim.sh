#!/usr/bin/env bash
# Simulated machines (`crowbar simulate`, docs/simulator.md) alongside the lab's VMs, on the
# same appliance: they run inside $CBLAB_NS and reach the appliance over the namespace's
# loopback through a DHCP relay at 127.0.0.10 (relay pool $CBLAB_SIM_POOL.1-250, which
# appliance.sh serves when started with CBLAB_SIM=1). Their BMCs stay on their factory
# loopback addresses (--bmc-network none: the lab's bmc network belongs to the VMs' BMCs).
# sim.sh start --nodes N [more simulate options]   (background; log $CBLAB_STATE/simulate.log)
# sim.sh stop | status
source "$(dirname "$0")/lib.sh"
lab_need_root
pf="$CBLAB_STATE/simulate.pid"
case "${1:-}" in
  stop) lab_kill_pidfile "$pf"; exit 0 ;;
  status) if lab_pid_alive "$pf"; then echo running; else echo stopped; fi; exit 0 ;;
  start) shift ;;
  *) lab_die "usage: sim.sh start --nodes N [simulate options] | stop | status" ;;
esac
lab_pid_alive "$pf" && { lab_log "simulator already running"; exit 0; }
lab_pid_alive "$CBLAB_STATE/appliance.pid" || lab_die "the appliance is not running (lab/appliance.sh start, with CBLAB_SIM=1)"
# Answers to the simulated machines ($CBLAB_SIM_POOL.x) leave from the appliance's admin
# address, as they would towards a routed relay subnet. Without this route the kernel picks
# 127.0.0.1 as the source of UDP replies from sockets bound to 0.0.0.0, and a TFTP client that
# sent its request to next-server ($CBLAB_SERVER_IP) rightly ignores them.
lab_ns ip route replace local "$CBLAB_SIM_POOL.0/24" dev lo src "$CBLAB_SERVER_IP" table local
cd "$ROOT_DIR"
ip netns exec "$CBLAB_NS" setsid node --import tsx src/cli.ts simulate --url http://127.0.0.1:80 \
  --token "$(cat "$CBLAB_STATE/appliance/admin.token")" --dhcp 127.0.0.1:67 --tftp-port 69 --bmc-network none \
  "$@" > "$CBLAB_STATE/simulate.log" 2>&1 < /dev/null &
echo $! > "$pf"
lab_log "simulator started in $CBLAB_NS (pid $(cat "$pf"), log $CBLAB_STATE/simulate.log)"
