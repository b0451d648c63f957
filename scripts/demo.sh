#!/usr/bin/env bash
# `npm run demo`: watch Crowbar discover machines, on this machine only.
#  1. installs what it needs (scripts/setup.sh: Debian packages, npm packages,
#     the discovery image);
#  2. creates an isolated admin network (network namespace cblab-demo with a
#     bridge; BMC simulators in cblab-demo-b) and starts the appliance on it;
#  3. creates $DEMO_VMS qemu machines (BIOS and UEFI, KVM when /dev/kvm really
#     works, else TCG), each with an ipmi_sim BMC, and powers them on over IPMI;
#  4. prints the API URL (reachable from this host over a private veth,
#     $CBLAB_HOST_IP <-> $CBLAB_HOST_PEER_IP; no traffic leaves the machine) and
#     the admin token, then shows node states as they change;
#  5. Ctrl-C (or SIGTERM, or DEMO_SECONDS=N: after N seconds) stops and removes everything
#     (namespaces, processes, VM disks).
# Needs root. Env: DEMO_VMS (default 3), DEMO_SIM_NODES (simulated machines alongside, default 3;
# 0 for none), CBLAB_NAME (default demo), CBLAB_NET (default 10.123.45). Without qemu: scripts/demo-sim.sh (simulated machines only).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "npm run demo must run as root (network namespaces, qemu, ipmi_sim)" >&2; exit 1; }
# Without qemu (or DEMO_SIM_ONLY=1): simulated machines against a loopback appliance instead.
if [[ -n "${DEMO_SIM_ONLY:-}" ]] || ! command -v qemu-system-x86_64 > /dev/null; then
  echo "== qemu-system-x86_64 not available (or DEMO_SIM_ONLY set): running the demo with simulated machines"
  exec bash scripts/demo-sim.sh
fi
# CBLAB_NAME (default demo) names the lab: namespaces cblab-<name>, state /var/tmp/cblab/<name>.
: "${CBLAB_NAME:=demo}"
export CBLAB_NAME CBLAB_HOST_VETH=1
: "${DEMO_VMS:=3}" "${CBLAB_NET:=10.123.45}" "${CBLAB_HOST_IP:=172.31.254.1}" "${CBLAB_HOST_PEER_IP:=172.31.254.2}"
export CBLAB_NET CBLAB_HOST_IP CBLAB_HOST_PEER_IP
source lab/lib.sh
source scripts/demo-watch.sh
set +e

echo "== installing what the demo needs (scripts/setup.sh)"
bash scripts/setup.sh || exit 1
bash images/build-discovery.sh > /dev/null || exit 1
[[ -f "$CBLAB_CACHE/lab-accel" ]] || bash lab/check-kvm.sh > /dev/null

if ip -4 addr show | grep -q " ${CBLAB_HOST_IP%.*}\." && ! ip link show "cbl-${CBLAB_NAME:0:8}" > /dev/null 2>&1; then
  echo "this host already uses ${CBLAB_HOST_IP%.*}.0/24; set CBLAB_HOST_IP/CBLAB_HOST_PEER_IP to a free private /30" >&2
  exit 1
fi

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "== stopping: VMs, BMCs, appliance; removing namespaces and VM disks"
  bash lab/down.sh --purge
  exit 0
}
trap cleanup INT TERM EXIT

# A few simulated machines join the real ones (docs/simulator.md, lab/sim.sh): they reach the
# appliance over the namespace's loopback through a DHCP relay at 127.0.0.10 (CBLAB_SIM=1 gives
# the appliance their relay pool).
: "${DEMO_SIM_NODES:=3}"
if ((DEMO_SIM_NODES > 0)); then export CBLAB_SIM=1; fi
bash lab/down.sh --purge > /dev/null 2>&1   # leftovers of an earlier demo
bash lab/up.sh || exit 1
bash lab/ra.sh start || exit 1
bash lab/appliance.sh start || exit 1
TOKEN=$(cat "$CBLAB_STATE/appliance/admin.token")
PASSWORD=$(cat "$CBLAB_STATE/appliance/admin.password" 2> /dev/null || echo "(see $CBLAB_STATE/appliance.log)")
API="http://$CBLAB_HOST_PEER_IP"

for i in $(seq 1 "$DEMO_VMS"); do
  case $((i % 3)) in
    1) opts=(--fw bios --nic virtio --mem 256 --cpus 1 --disk 8G) ;;
    2) opts=(--fw uefi --nic virtio --mem 320 --cpus 2 --disk 16G) ;;
    0) opts=(--fw bios --nic e1000 --mem 288 --cpus 2 --disk 4G) ;;
  esac
  bash lab/bmc.sh start "demo$i" --ip "$CBLAB_NET.$((199 + i))" -- "${opts[@]}" || exit 1
done
for i in $(seq 1 "$DEMO_VMS"); do
  bmc="$CBLAB_NET.$((199 + i))"
  ip netns exec "$CBLAB_NS" ipmitool -I lanplus -C 3 -H "$bmc" -U "$CBLAB_BMC_USER" -P "$CBLAB_BMC_PASS" chassis bootdev pxe > /dev/null
  ip netns exec "$CBLAB_NS" ipmitool -I lanplus -C 3 -H "$bmc" -U "$CBLAB_BMC_USER" -P "$CBLAB_BMC_PASS" chassis power on > /dev/null
  echo "   demo$i powered on through its BMC $bmc"
done

if ((DEMO_SIM_NODES > 0)); then
  bash lab/sim.sh start --nodes "$DEMO_SIM_NODES" --install-seconds 30 --rate 1 --keep || exit 1
  echo "   $DEMO_SIM_NODES simulated machines started alongside (log: $CBLAB_STATE/simulate.log)"
fi

cat <<EOM

== Crowbar demo is running ($DEMO_VMS machines + $DEMO_SIM_NODES simulated, accelerator $(lab_accel))
   API / console : $API/   (from this host, private veth; health: $API/api/v1/health)
   console login : admin / $PASSWORD
   admin token   : $TOKEN
   try           : curl -s -H "Authorization: Bearer $TOKEN" $API/api/v1/nodes
   VM consoles   : tail -f $CBLAB_STATE/vm/demo1/serial.log
   appliance log : $CBLAB_STATE/appliance.log
   BMCs          : ip netns exec $CBLAB_NS ipmitool -I lanplus -C 3 -H $CBLAB_NET.200 -U $CBLAB_BMC_USER -P $CBLAB_BMC_PASS chassis power status
   Ctrl-C (or SIGTERM) stops everything and cleans up.

EOM
demo_watch "$API" "$TOKEN" nodes
