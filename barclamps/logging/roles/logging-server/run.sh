#!/bin/sh
# Crowbar script role logging-server (barclamp logging). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
mkdir -p "$R/etc/rsyslog.d" "$R$CB_ATTR_LOG_DIR"
cat > "$R/etc/rsyslog.d/10-crowbar-server.conf" <<EOF
# written by Crowbar role logging-server
module(load="imudp")
input(type="imudp" port="514")
module(load="imtcp")
input(type="imtcp" port="514")
\$template CrowbarPerHost,"$CB_ATTR_LOG_DIR/%HOSTNAME%.log"
*.* ?CrowbarPerHost
EOF
echo "logging-server: receiving for $(echo ${CB_PEERS_LOGGING_CLIENT:-} | wc -w) client(s)"
