#!/bin/sh
# Crowbar script role network (barclamp network). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
out="$R/etc/network/interfaces.d/crowbar"
mkdir -p "$(dirname "$out")"
tmp="$out.tmp"
echo "# written by Crowbar role network for $CB_NODE; do not edit" > "$tmp"
for net in $CB_NETWORKS; do
  up=$(echo "$net" | tr 'a-z' 'A-Z')
  eval dev=\${CB_NET_${up}_DEVICE:-}
  eval addr=\${CB_NET_${up}_ADDRESS:-}
  eval mask=\${CB_NET_${up}_NETMASK:-}
  eval vlan=\${CB_NET_${up}_VLAN:-}
  eval members=\${CB_NET_${up}_MEMBERS:-}
  eval team=\${CB_NET_${up}_TEAM:-}
  eval mode=\${CB_NET_${up}_TEAM_MODE:-}
  eval gw=\${CB_NET_${up}_ROUTER:-}
  [ -n "$dev" ] && [ -n "$addr" ] || continue
  if [ -n "$team" ]; then
    printf '\nauto %s\niface %s inet manual\n  bond-slaves %s\n  bond-mode %s\n  bond-miimon 100\n' "$team" "$team" "$members" "$mode" >> "$tmp"
  fi
  printf '\n# network %s\nauto %s\niface %s inet static\n  address %s\n  netmask %s\n' "$net" "$dev" "$dev" "$addr" "$mask" >> "$tmp"
  [ -n "$vlan" ] && printf '  vlan-raw-device %s\n' "${team:-$members}" >> "$tmp"
  [ -n "$gw" ] && [ "$net" = "$CB_ATTR_DEFAULT_ROUTE_NETWORK" ] && printf '  gateway %s\n' "$gw" >> "$tmp"
done
mv "$tmp" "$out"
echo "network: wrote $out"
