#!/bin/sh
# Crowbar script role deployer-client (barclamp deployer). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
mkdir -p "$R/var/lib/crowbar"
{
  echo "node=$CB_NODE"
  echo "kernel=$(uname -r)"
  echo "arch=$(uname -m)"
  if [ -r /etc/os-release ]; then . /etc/os-release; echo "os=${ID:-unknown}-${VERSION_ID:-unknown}"; fi
  echo "cpus=$(grep -c ^processor /proc/cpuinfo 2>/dev/null || echo 0)"
} > "$R/var/lib/crowbar/deployer.facts"
echo "deployer-client: facts recorded"
