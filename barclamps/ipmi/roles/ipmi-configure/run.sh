#!/bin/sh
# Crowbar script role ipmi-configure (barclamp ipmi). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
if [ -z "${CB_ADDR_BMC:-}" ]; then echo "ipmi-configure: no bmc address allocated; nothing to do"; exit 0; fi
if [ "$CB_ATTR_ENABLE" != "true" ]; then echo "ipmi-configure: disabled by proposal"; exit 0; fi
if ! command -v ipmitool >/dev/null 2>&1 || [ -n "${CB_ROOT:-}" ]; then
  mkdir -p "$R/var/lib/crowbar"
  echo "bmc $CB_ADDR_BMC/$CB_NET_BMC_NETMASK gw ${CB_NET_BMC_ROUTER:-none} channel $CB_ATTR_CHANNEL" > "$R/var/lib/crowbar/ipmi.desired"
  echo "ipmi-configure: ipmitool not available, desired settings recorded"; exit 0
fi
ch="$CB_ATTR_CHANNEL"
ipmitool lan set "$ch" ipsrc static
ipmitool lan set "$ch" ipaddr "$CB_ADDR_BMC"
ipmitool lan set "$ch" netmask "$CB_NET_BMC_NETMASK"
[ -n "${CB_NET_BMC_ROUTER:-}" ] && ipmitool lan set "$ch" defgw ipaddr "$CB_NET_BMC_ROUTER"
echo "ipmi-configure: BMC set to $CB_ADDR_BMC"
