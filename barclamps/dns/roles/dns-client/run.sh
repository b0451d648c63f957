#!/bin/sh
# Crowbar script role dns-client (barclamp dns). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
mkdir -p "$R/etc"
{
  echo "# written by Crowbar role dns-client"
  echo "search $CB_ATTR_DOMAIN"
  for ns in ${CB_ATTR_NAMESERVERS:-$CB_APPLIANCE_ADDRESS}; do echo "nameserver $ns"; done
} > "$R/etc/resolv.conf.crowbar"
mv "$R/etc/resolv.conf.crowbar" "$R/etc/resolv.conf"
echo "dns-client: resolv.conf written"
