#!/bin/sh
# Crowbar script role lamp-balancer (barclamp lamp). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
mkdir -p "$R/etc/haproxy"
{
  printf 'frontend web\n  bind *:%s\n  default_backend lamp\nbackend lamp\n  balance roundrobin\n' "$CB_ATTR_HTTP_PORT"
  for p in ${CB_PEERS_LAMP_WEB:-}; do printf '  server %s %s:80 check\n' "${p%%=*}" "${p#*=}"; done
} > "$R/etc/haproxy/haproxy.cfg"
echo "lamp-balancer: $(grep -c '^  server' "$R/etc/haproxy/haproxy.cfg") backend(s)"
