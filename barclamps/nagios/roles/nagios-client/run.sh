#!/bin/sh
# Crowbar script role nagios-client (barclamp nagios). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
server=""
for p in ${CB_PEERS_NAGIOS_SERVER:-}; do server="${p#*=}"; break; done
[ -n "$server" ] || { echo "nagios-client: no nagios server in the proposal" >&2; exit 1; }
mkdir -p "$R/etc/nagios/nrpe.d"
echo "allowed_hosts=127.0.0.1,$server" > "$R/etc/nagios/nrpe.d/crowbar.cfg"
echo "nagios-client: monitored by $server"
