#!/bin/sh
# Crowbar script role lamp-database (barclamp lamp). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
mkdir -p "$R/etc/mysql/conf.d"
printf '[mysqld]\nbind-address = %s\nmax_connections = %s\n' "${CB_ADDR_ADMIN:-0.0.0.0}" "$CB_ATTR_MAX_CONNECTIONS" > "$R/etc/mysql/conf.d/crowbar.cnf"
echo "lamp-database: listening on ${CB_ADDR_ADMIN:-0.0.0.0}"
