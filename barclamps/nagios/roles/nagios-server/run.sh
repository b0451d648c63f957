#!/bin/sh
# Crowbar script role nagios-server (barclamp nagios). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
conf="$R$CB_ATTR_CONF_DIR/crowbar-hosts.cfg"
mkdir -p "$(dirname "$conf")"
{
  echo "# written by Crowbar role nagios-server: one host per nagios-client node"
  for p in ${CB_PEERS_NAGIOS_CLIENT:-}; do
    name="${p%%=*}"; addr="${p#*=}"
    printf 'define host {\n  use                 linux-server\n  host_name           %s\n  address             %s\n  check_interval      %s\n}\n' "$name" "$addr" "$CB_ATTR_CHECK_INTERVAL"
  done
} > "$conf.tmp"
mv "$conf.tmp" "$conf"
if [ -z "${CB_ROOT:-}" ] && command -v systemctl >/dev/null 2>&1; then systemctl reload nagios4 || true; fi
echo "nagios-server: $(grep -c '^define host' "$conf") host(s)"
