#!/usr/bin/env bash
# Tear a lab down: BMCs, VMs, radvd and the appliance (by the pidfiles in $CBLAB_STATE),
# then any process left inside the lab namespaces (only lab processes live there; each
# BMC has its own, $CBLAB_BMC_NS-<name>),
# then the namespaces themselves (bridge, taps and veths go with them) and the host veth.
# --purge also deletes $CBLAB_STATE (disks, serial logs).
source "$(dirname "$0")/lib.sh"
lab_need_root
if [[ -d "$CBLAB_STATE" ]]; then
  for pf in "$CBLAB_STATE"/bmc/*/ipmi_sim.pid "$CBLAB_STATE"/vm/*/qemu.pid "$CBLAB_STATE"/*.pid; do
    [[ -f "$pf" ]] && lab_kill_pidfile "$pf"
  done
fi
# each BMC's own namespace (lab/bmc.sh), named after its state directory
BMC_NSS=()
for d in "$CBLAB_STATE"/bmc/*/; do [[ -d "$d" ]] && BMC_NSS+=("$CBLAB_BMC_NS-$(basename "$d")"); done
for ns in "${BMC_NSS[@]}" "$CBLAB_BMC_NS" "$CBLAB_NS"; do
  lab_ns_exists "$ns" || continue
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$ns"
done
hv="cbl-${CBLAB_NAME:0:8}"
ip link show "$hv" >/dev/null 2>&1 && ip link del "$hv"
[[ "${1:-}" == --purge ]] && rm -rf "$CBLAB_STATE"
lab_log "lab $CBLAB_NAME down"
