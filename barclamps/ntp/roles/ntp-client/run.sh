#!/bin/sh
# Crowbar script role ntp-client (barclamp ntp). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
servers="${CB_ATTR_SERVERS:-$CB_APPLIANCE_ADDRESS}"
opt=""; [ "$CB_ATTR_IBURST" = "true" ] && opt=" iburst"
conf="$R/etc/chrony/chrony.conf"
mkdir -p "$(dirname "$conf")"
{
  echo "# written by Crowbar role ntp-client"
  for s in $servers; do echo "server $s$opt"; done
  echo "driftfile /var/lib/chrony/chrony.drift"
  echo "makestep 1.0 3"
  echo "rtcsync"
} > "$conf.tmp"
mv "$conf.tmp" "$conf"
if [ -z "${CB_ROOT:-}" ] && command -v systemctl >/dev/null 2>&1; then systemctl restart chrony || systemctl restart chronyd || true; fi
echo "ntp-client: $(echo $servers | wc -w) server(s)"
