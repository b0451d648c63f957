#!/bin/sh
# Crowbar script role bios-set (barclamp bios). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
mkdir -p "$R/var/lib/crowbar"
echo "$CB_ATTR_SETTINGS" | tr ' ' '\n' > "$R/var/lib/crowbar/bios.desired"
if [ -n "$CB_ATTR_TOOL" ] && [ -z "${CB_ROOT:-}" ]; then
  for kv in $CB_ATTR_SETTINGS; do "$CB_ATTR_TOOL" set "${kv%%=*}" "${kv#*=}"; done
fi
echo "bios-set: $(echo $CB_ATTR_SETTINGS | wc -w) setting(s)"
