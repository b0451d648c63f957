# shellcheck shell=bash
# Crowbar lab: common settings and helpers (sourced by every lab script).
# Every setting can be overridden from the environment. Nothing here reaches
# outside the lab's own network namespaces (no uplink, no route, no NAT),
# except the optional host veth (CBLAB_HOST_VETH=1) used by the demo, which is
# a private point-to-point link between this host and the lab namespace.
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$LAB_DIR/.." && pwd)

: "${CBLAB_NAME:=demo}"                          # lab instance name (namespaces cblab-<name>, cblab-<name>-b)
: "${CBLAB_NS:=cblab-$CBLAB_NAME}"               # admin network namespace: bridge, taps, VMs, appliance
: "${CBLAB_BMC_NS:=cblab-$CBLAB_NAME-b}"         # BMC namespace: ipmi_sim addresses, veth into the bridge
: "${CBLAB_BR:=br0}"                             # the admin "switch" (inside CBLAB_NS)
: "${CBLAB_NET:=10.123.45}"                      # admin /24 (first three octets)
: "${CBLAB_SERVER_IP:=$CBLAB_NET.1}"             # the appliance's address on the bridge
: "${CBLAB_SERVER_IP6:=fd00:cb:$((RANDOM % 9000 + 1000))::1}"   # ULA for router advertisements
: "${CBLAB_STATE:=/var/tmp/cblab/$CBLAB_NAME}"   # pidfiles, serial logs, disks, OVMF vars
: "${CBLAB_CACHE:=/var/cache/crowbar}"           # accelerator probe result
: "${CBLAB_ACCEL:=auto}"                         # auto | tcg | kvm
: "${CBLAB_BMC_USER:=admin}"
: "${CBLAB_BMC_PASS:=crowbar-lab}"
: "${CBLAB_HOST_IP:=172.31.254.1}"               # host end of the optional host veth
: "${CBLAB_HOST_PEER_IP:=172.31.254.2}"          # lab end of it
: "${CBLAB_SIM_POOL:=127.0.128}"                 # simulated machines' relay pool (lab/sim.sh): .1-.250

lab_log() { printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
lab_die() { lab_log "ERROR: $*"; exit 1; }
lab_need_root() { [[ $EUID -eq 0 ]] || lab_die "must run as root"; }
lab_ns() { ip netns exec "$CBLAB_NS" "$@"; }
lab_bmc_ns() { ip netns exec "$CBLAB_BMC_NS" "$@"; }
lab_ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
lab_now_ms() { date +%s%3N; }

# alive = the pid in the file exists and is not a zombie (PID 1 of a container
# may reap orphans late, so a killed qemu can linger as a zombie)
lab_pid_alive() {
  local p
  p=$(cat "$1" 2>/dev/null) || return 1
  [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null || return 1
  [[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]]
}

# stop the process recorded in a pidfile: TERM, then KILL after 3 s
lab_kill_pidfile() {
  local pf=$1 pid i
  [[ -f "$pf" ]] || return 0
  pid=$(cat "$pf" 2>/dev/null || true)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do lab_pid_alive "$pf" || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pf"
}

# accelerator: kvm only when the cached probe (check-kvm.sh) said it boots Linux
lab_accel() {
  local a=$CBLAB_ACCEL
  [[ "$a" == auto ]] && a=$(cat "$CBLAB_CACHE/lab-accel" 2>/dev/null || echo tcg)
  echo "$a"
}
