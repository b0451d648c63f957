#!/bin/sh
# Crowbar script role crowbar-node (barclamp crowbar). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
mkdir -p "$R/etc/crowbar"
umask 022
cat > "$R/etc/crowbar/node.conf" <<EOF
# written by Crowbar role crowbar-node; do not edit
CROWBAR_NODE=$CB_NODE
CROWBAR_URL=$CB_APPLIANCE_URL
CROWBAR_ADMIN_ADDRESS=${CB_ADDR_ADMIN:-}
CROWBAR_POLL_SECONDS=$CB_ATTR_AGENT_POLL_SECONDS
EOF
echo "crowbar-node: identity written for $CB_NODE"
