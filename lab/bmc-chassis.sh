#!/usr/bin/env bash
# ipmi_sim chassis_control program for lab VM NAME:
#   bmc-chassis.sh NAME get power|boot ...   -> "power:0|1", "boot:none|pxe|default"
#   bmc-chassis.sh NAME set power 0|1 | reset 1 | shutdown 1 | boot pxe|default|none | identify ...
# ipmi_sim runs this synchronously (popen) and ipmitool retransmits after about
# 1 s, so it must return at once: power on starts qemu in the background (a
# `starting` marker makes `get power` answer 1 meanwhile); power off is an
# immediate SIGKILL of qemu (pulling the plug, as a real BMC does).
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
source "$LAB_DIR/lib.sh"
set +e
name=$1; op=$2; shift 2
VMD="$CBLAB_STATE/vm/$name"
mkdir -p "$VMD"
echo "$(date +%T.%3N) $op $*" >> "$CBLAB_STATE/bmc/$name/chassis.log"
power() {
  if lab_pid_alive "$VMD/qemu.pid"; then echo 1
  elif [[ -f "$VMD/starting" ]] && (( $(date +%s) - $(stat -c %Y "$VMD/starting") < 15 )); then echo 1
  else echo 0; fi
}
power_on() { touch "$VMD/starting"; setsid "$LAB_DIR/vm.sh" start "$name" < /dev/null > /dev/null 2>> "$CBLAB_STATE/bmc/$name/chassis.log" & }
power_off() {
  local pid; pid=$(cat "$VMD/qemu.pid" 2>/dev/null)
  rm -f "$VMD/starting"
  [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null
  rm -f "$VMD/qemu.pid"
}
case "$op" in
  get)
    for p in "$@"; do
      case "$p" in
        power) echo "power:$(power)" ;;
        boot) case "$(cat "$VMD/bootdev" 2>/dev/null)" in pxe) echo boot:pxe ;; disk) echo boot:default ;; *) echo boot:none ;; esac ;;
        *) echo "bad parm $p"; exit 1 ;;
      esac
    done ;;
  set)
    while (($#)); do
      p=$1; v=$2; shift 2
      case "$p" in
        power) if [[ "$v" == 1 ]]; then [[ "$(power)" == 1 ]] || power_on; else power_off; fi ;;
        reset) if [[ "$(power)" == 1 ]]; then power_off; sleep 0.2; power_on; fi ;;
        shutdown) [[ -S "$VMD/monitor.sock" ]] && echo system_powerdown | timeout 2 socat - "UNIX-CONNECT:$VMD/monitor.sock" > /dev/null 2>&1 ;;
        boot) case "$v" in pxe) echo pxe > "$VMD/bootdev" ;; default) echo disk > "$VMD/bootdev" ;; none) rm -f "$VMD/bootdev" ;; *) echo "unsupported boot device $v"; exit 1 ;; esac ;;
        identify) : ;;
        *) echo "bad parm $p"; exit 1 ;;
      esac
    done ;;
  check) exit 1 ;;
  *) echo "bad op $op"; exit 1 ;;
esac
exit 0
