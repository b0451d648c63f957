#!/usr/bin/env bash
# ipmi_sim lan_config_program for lab BMC NAME: the simulated BMC follows the LAN
# configuration set over IPMI (in-band through /dev/ipmi0, or over the LAN), as a real
# BMC does. ipmi_sim calls it (popen, synchronously) as:
#   bmc-lan.sh NAME get PARM...            -> one "PARM:value" line per PARM
#   bmc-lan.sh NAME set PARM VALUE ...     (on each "set complete" commit of Set LAN Config)
#   bmc-lan.sh NAME check PARM VALUE ...   (exit 0 = supported)
# PARM: ip_addr ip_addr_src mac_addr subnet_mask default_gw_ip_addr default_gw_mac_addr
#       backup_gw_ip_addr backup_gw_mac_addr. ipmi_sim formats the values itself
#       (dotted quads, MACs, names), never raw guest bytes.
# State: $CBLAB_STATE/bmc/NAME/lan.state (PARM:value lines, written by bmc.sh at start).
# On set, the BMC's namespace ($CBLAB_BMC_NS-NAME, interface lan0) gets the new address
# and default route at once, and the old address is removed; ipmi_sim listens on
# 0.0.0.0:623 there, so it answers at the new address only. When the new subnet is not
# on the lab bridge, the gateway the BMC was given is added to the bridge: the lab plays
# the router of the BMC network, so the appliance reaches the BMC. VLAN ids are stored by
# ipmi_sim but not applied (the lab segment is untagged).
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
source "$LAB_DIR/lib.sh"
set +e
name=$1; op=$2; shift 2
B="$CBLAB_STATE/bmc/$name"
S="$B/lan.state"
NS="$CBLAB_BMC_NS-$name"
echo "$(date +%T.%3N) $op $*" >> "$B/lan.log"
val() { sed -n "s/^$1://p" "$S" | head -1; }

# dotted netmask -> prefix length (contiguous masks only)
mask_prefix() {
  local m=$1 o n=0 b
  IFS=. read -r -a o <<< "$m"
  for b in "${o[@]}"; do
    case "$b" in 255) n=$((n + 8)) ;; 254) n=$((n + 7)) ;; 252) n=$((n + 6)) ;; 248) n=$((n + 5)) ;;
      240) n=$((n + 4)) ;; 224) n=$((n + 3)) ;; 192) n=$((n + 2)) ;; 128) n=$((n + 1)) ;; 0) ;; *) return 1 ;; esac
  done
  echo "$n"
}

# apply lan.state to the BMC namespace
apply() {
  local ip mask gw prefix cur
  ip=$(val ip_addr); mask=$(val subnet_mask); gw=$(val default_gw_ip_addr)
  prefix=$(mask_prefix "$mask") || { echo "$(date +%T.%3N) bad netmask $mask" >> "$B/lan.log"; return 1; }
  ((prefix > 0)) || return 1
  [[ "$ip" == 0.0.0.0 ]] && return 0
  for cur in $(ip -n "$NS" -4 -o addr show dev lan0 scope global | awk '{print $4}'); do
    [[ "$cur" == "$ip/$prefix" ]] || ip -n "$NS" addr del "$cur" dev lan0
  done
  ip -n "$NS" addr replace "$ip/$prefix" dev lan0
  echo "$ip" > "$B/ip"
  if [[ -n "$gw" && "$gw" != 0.0.0.0 ]]; then
    ip -n "$NS" route replace default via "$gw" dev lan0 2>> "$B/lan.log"
    # the lab bridge routes the BMC network: give it the gateway address unless it has one there
    if ! ip -n "$CBLAB_NS" -4 route get "$ip" 2>/dev/null | grep -q "dev $CBLAB_BR"; then
      ip -n "$CBLAB_NS" addr replace "$gw/$prefix" dev "$CBLAB_BR" 2>> "$B/lan.log"
    fi
  fi
  echo "$(date +%T.%3N) applied $ip/$prefix gw ${gw:-none}" >> "$B/lan.log"
}

case "$op" in
  get)
    for p in "$@"; do
      v=$(val "$p")
      [[ -n "$v" ]] || { echo "unknown parameter $p"; exit 1; }
      echo "$p:$v"
    done ;;
  set)
    while (($# >= 2)); do
      p=$1; v=$2; shift 2
      [[ "$p" =~ ^[a-z_]+$ && "$v" =~ ^[0-9a-zA-Z.:]+$ ]] || { echo "bad value for $p"; exit 1; }
      if grep -q "^$p:" "$S"; then sed -i "s/^$p:.*/$p:$v/" "$S"; else echo "$p:$v" >> "$S"; fi
    done
    apply || exit 1 ;;
  check)
    # static addresses only: the lab has no DHCP for BMCs
    while (($# >= 2)); do
      [[ "$1" == ip_addr_src && "$2" != static ]] && exit 1
      shift 2
    done ;;
  *) echo "bad op $op"; exit 1 ;;
esac
exit 0
