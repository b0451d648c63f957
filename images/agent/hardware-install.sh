#!/bin/sh
# Crowbar hardware-install step, run by the discovery agent on the node while
# it is `hardware-installing` (busybox sh; needs ipmitool for the BMC part and
# mdadm for the RAID part). Contract: docs/ipmi.md ("hardware-install.sh").
#
#   hardware-install.sh [INSTRUCTION_FILE]
#
# The instruction is KEY=value lines (no quoting, never evaluated as shell) in
# INSTRUCTION_FILE, or the same keys in the environment (the file wins). With
# neither, and CROWBAR_URL + CROWBAR_TOKEN set (how the discovery agent runs
# it), it is fetched from $CROWBAR_URL/api/v1/agent/hardware-install with the
# node token, kept in a 0600 file on tmpfs and deleted after reading. Keys:
#   BMC_CHANNEL    LAN channel (default 1)
#   BMC_IP BMC_NETMASK [BMC_GATEWAY] [BMC_VLAN (1-4094 | off)]
#   BMC_USER_ID    user slot (default 3)   BMC_USER  BMC_PASSWORD (1-16 chars, or up to 20)
#   RAID_LEVEL     none | raid0 | raid1 | raid5 | raid6 | raid10 (default none)
#   RAID_DISKS     the disks: block devices for software RAID ("/dev/sda /dev/sdb"),
#                  enclosure:slot for storcli/perccli, port:box:bay for ssacli
#   RAID_DEVICE    md device to create (default /dev/md/crowbar)
#   RAID_CONTROLLER auto (default: a vendor CLI that reports a controller, else mdadm) |
#                  software | storcli | perccli | ssacli   (raid.sh)
#   BIOS_SETTINGS  KEY=value ... (bios.sh: BootMode, UefiBootOrder, UefiBootTimeout, vendor keys)
#   BIOS_TOOL      vendor BIOS tool, called as TOOL set KEY VALUE (optional)
#   IPMITOOL       ipmitool command (default: "ipmitool" on /dev/ipmi0)
#   MDADM          mdadm command (default "mdadm")
#   WGET           wget command (default "wget", busybox's in the image)
#   DRY_RUN=1      print the commands instead of running them
# Output: progress lines "[hardware-install] ..." on stderr and, last, one JSON
# line on stdout: {"bmc":"ok|skipped|failed","raid":"ok|skipped|exists|failed",
# "bios":"ok|partial|skipped|failed","error":"..."}
# Exit status 0 when nothing failed. Secrets are never printed.

INSTR=${1:-}
log() { echo "[hardware-install] $*" >&2; }

FETCHED=""
if [ -z "$INSTR" ] && [ -z "${BMC_IP:-}${BMC_USER:-}${RAID_LEVEL:-}${BIOS_SETTINGS:-}" ] && [ -n "${CROWBAR_URL:-}" ] && [ -n "${CROWBAR_TOKEN:-}" ]; then
  FETCHED=$(mktemp /tmp/hwinstall.XXXXXX) || FETCHED=/tmp/hwinstall.$$
  chmod 600 "$FETCHED" 2>/dev/null
  # shellcheck disable=SC2086
  if ! timeout 60 ${WGET:-wget} -q -O "$FETCHED" --header "Authorization: Bearer $CROWBAR_TOKEN" "${CROWBAR_URL%/}/api/v1/agent/hardware-install"; then
    rm -f "$FETCHED"
    log "cannot fetch the instruction from ${CROWBAR_URL%/}/api/v1/agent/hardware-install"
    echo '{"bmc":"failed","raid":"failed","error":"instruction not fetched"}'
    exit 2
  fi
  INSTR=$FETCHED
fi

if [ -n "$INSTR" ]; then
  [ -r "$INSTR" ] || { log "cannot read $INSTR"; echo '{"bmc":"failed","raid":"failed","error":"instruction file unreadable"}'; exit 2; }
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    k=${line%%=*}; v=${line#*=}
    case "$k" in
      BMC_CHANNEL) BMC_CHANNEL=$v ;; BMC_IP) BMC_IP=$v ;; BMC_NETMASK) BMC_NETMASK=$v ;;
      BMC_GATEWAY) BMC_GATEWAY=$v ;; BMC_VLAN) BMC_VLAN=$v ;; BMC_USER_ID) BMC_USER_ID=$v ;;
      BMC_USER) BMC_USER=$v ;; BMC_PASSWORD) BMC_PASSWORD=$v ;;
      RAID_LEVEL) RAID_LEVEL=$v ;; RAID_DISKS) RAID_DISKS=$v ;; RAID_DEVICE) RAID_DEVICE=$v ;;
      RAID_CONTROLLER) RAID_CONTROLLER=$v ;; BIOS_SETTINGS) BIOS_SETTINGS=$v ;; BIOS_TOOL) BIOS_TOOL=$v ;;
      *) log "ignoring unknown key $k" ;;
    esac
  done < "$INSTR"
  [ -n "$FETCHED" ] && rm -f "$FETCHED"
fi

BMC_CHANNEL=${BMC_CHANNEL:-1}
BMC_USER_ID=${BMC_USER_ID:-3}
RAID_LEVEL=${RAID_LEVEL:-none}
RAID_DEVICE=${RAID_DEVICE:-/dev/md/crowbar}
IPMITOOL=${IPMITOOL:-ipmitool}
MDADM=${MDADM:-mdadm}

ERR=""
fail() { ERR="$*"; log "error: $*"; }

# run CMD...: execute (or print with DRY_RUN=1); output goes to stderr.
run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then echo "+ $*" >&2; return 0; fi
  "$@" >&2
}
# run_secret SECRET CMD...: like run, but any argument equal to SECRET is printed as ***.
run_secret() {
  secret=$1; shift
  if [ "${DRY_RUN:-0}" = 1 ]; then
    out=""
    for a in "$@"; do if [ "$a" = "$secret" ]; then out="$out ***"; else out="$out $a"; fi; done
    echo "+$out" >&2; return 0
  fi
  "$@" >&2
}

is_ipv4() {
  echo "$1" | grep -Eq '^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$' || return 1
  for o in $(echo "$1" | tr . ' '); do [ "$o" -le 255 ] || return 1; done
}
is_uint() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; }

# ---- BMC (IPMI in-band): address, VLAN, user -------------------------------------------
BMC=skipped
if [ -n "${BMC_IP:-}" ] || [ -n "${BMC_USER:-}" ]; then
  BMC=failed
  # shellcheck disable=SC2086
  set -- $IPMITOOL
  if [ "$IPMITOOL" = ipmitool ] && [ ! -e /dev/ipmi0 ] && [ ! -e /dev/ipmi/0 ] && [ "${DRY_RUN:-0}" != 1 ]; then
    fail "no in-band IPMI device (/dev/ipmi0); load ipmi_si and ipmi_devintf"
  elif ! is_uint "$BMC_CHANNEL" || ! is_uint "$BMC_USER_ID" || [ "$BMC_USER_ID" -lt 2 ] || [ "$BMC_USER_ID" -gt 63 ]; then
    fail "BMC_CHANNEL/BMC_USER_ID invalid"
  elif [ -n "${BMC_IP:-}" ] && { ! is_ipv4 "$BMC_IP" || ! is_ipv4 "${BMC_NETMASK:-}"; }; then
    fail "BMC_IP/BMC_NETMASK must be IPv4 addresses"
  elif [ -n "${BMC_GATEWAY:-}" ] && ! is_ipv4 "$BMC_GATEWAY"; then
    fail "BMC_GATEWAY must be an IPv4 address"
  elif [ -n "${BMC_VLAN:-}" ] && [ "$BMC_VLAN" != off ] && { ! is_uint "$BMC_VLAN" || [ "$BMC_VLAN" -lt 1 ] || [ "$BMC_VLAN" -gt 4094 ]; }; then
    fail "BMC_VLAN must be 1-4094 or off"
  elif [ -n "${BMC_USER:-}" ] && { [ -z "${BMC_PASSWORD:-}" ] || [ ${#BMC_PASSWORD} -gt 20 ] || [ ${#BMC_USER} -gt 16 ]; }; then
    fail "BMC_USER needs BMC_PASSWORD (max 20 chars; user max 16)"
  else
    ok=1
    if [ -n "${BMC_IP:-}" ]; then
      log "bmc: channel $BMC_CHANNEL static $BMC_IP/$BMC_NETMASK gw ${BMC_GATEWAY:-none} vlan ${BMC_VLAN:-unchanged}"
      run "$@" lan set "$BMC_CHANNEL" ipsrc static || ok=0
      # Some BMCs need a moment after ipsrc before they accept an address.
      [ "${DRY_RUN:-0}" = 1 ] || sleep 1
      run "$@" lan set "$BMC_CHANNEL" ipaddr "$BMC_IP" || ok=0
      run "$@" lan set "$BMC_CHANNEL" netmask "$BMC_NETMASK" || ok=0
      if [ -n "${BMC_GATEWAY:-}" ]; then run "$@" lan set "$BMC_CHANNEL" defgw ipaddr "$BMC_GATEWAY" || ok=0; fi
      if [ -n "${BMC_VLAN:-}" ]; then run "$@" lan set "$BMC_CHANNEL" vlan id "$BMC_VLAN" || ok=0; fi
      [ $ok = 1 ] || fail "setting the BMC LAN configuration failed"
    fi
    if [ $ok = 1 ] && [ -n "${BMC_USER:-}" ]; then
      log "bmc: user $BMC_USER_ID name $BMC_USER (administrator on channel $BMC_CHANNEL)"
      width=16; [ ${#BMC_PASSWORD} -gt 16 ] && width=20
      run "$@" user set name "$BMC_USER_ID" "$BMC_USER" || ok=0
      # The password is an argument of ipmitool on this node only (the discovery image has no
      # other users); it is never printed.
      [ $ok = 1 ] && { run_secret "$BMC_PASSWORD" "$@" user set password "$BMC_USER_ID" "$BMC_PASSWORD" $width || run_secret "$BMC_PASSWORD" "$@" user set password "$BMC_USER_ID" "$BMC_PASSWORD"; } || ok=0
      [ $ok = 1 ] && { run "$@" channel setaccess "$BMC_CHANNEL" "$BMC_USER_ID" callin=on ipmi=on link=on privilege=4 || ok=0; }
      [ $ok = 1 ] && { run "$@" user priv "$BMC_USER_ID" 4 "$BMC_CHANNEL" || ok=0; }
      [ $ok = 1 ] && { run "$@" user enable "$BMC_USER_ID" || ok=0; }
      [ $ok = 1 ] || fail "setting the BMC user failed"
    fi
    if [ $ok = 1 ] && [ -n "${BMC_IP:-}" ] && [ "${DRY_RUN:-0}" != 1 ]; then
      if "$@" lan print "$BMC_CHANNEL" 2>/dev/null | grep -Eq "^IP Address[[:space:]]+: $BMC_IP\$"; then :; else ok=0; fail "BMC does not report IP $BMC_IP after setting it"; fi
    fi
    [ $ok = 1 ] && BMC=ok
  fi
fi

# ---- RAID: software (mdadm) or a vendor controller CLI, one interface (raid.sh) ----------
RAID=skipped
case "$RAID_LEVEL" in
  none|'') ;;
  *)
    # shellcheck source=raid.sh
    . "${RAID_LIB:-$(dirname "$0")/raid.sh}"
    raid_build "$RAID_LEVEL" "${RAID_DISKS:-}" "$RAID_DEVICE" "${RAID_CONTROLLER:-auto}" ;;
esac

# ---- BIOS/UEFI settings (bios.sh): efibootmgr where UEFI exposes it, else a vendor tool ---
BIOS=skipped
if [ -n "${BIOS_SETTINGS:-}" ]; then
  # shellcheck source=bios.sh
  . "${BIOS_LIB:-$(dirname "$0")/bios.sh}"
  bios_apply "$BIOS_SETTINGS" "${BIOS_TOOL:-}"
fi

esc=$(printf '%s' "$ERR" | tr -d '"\\' | tr '\n' ' ')
printf '{"bmc":"%s","raid":"%s","bios":"%s","error":"%s"}\n' "$BMC" "$RAID" "$BIOS" "$esc"
[ "$BMC" != failed ] && [ "$RAID" != failed ] && [ "$BIOS" != failed ]
