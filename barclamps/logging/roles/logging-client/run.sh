#!/bin/sh
# Crowbar script role logging-client (barclamp logging). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
server=""
for p in ${CB_PEERS_LOGGING_SERVER:-}; do server="${p#*=}"; break; done
[ -n "$server" ] || { echo "logging-client: no logging server in the proposal" >&2; exit 1; }
mkdir -p "$R/etc/rsyslog.d"
echo "*.* @@$server:514" > "$R/etc/rsyslog.d/90-crowbar-client.conf"
echo "logging-client: forwarding to $server"
