#!/bin/sh
# Crowbar script role lamp-web (barclamp lamp). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
db=""
for p in ${CB_PEERS_LAMP_DATABASE:-}; do db="${p#*=}"; break; done
[ -n "$db" ] || { echo "lamp-web: no database node" >&2; exit 1; }
mkdir -p "$R/etc/lamp"
printf 'DB_HOST=%s\nDB_NAME=%s\n' "$db" "$CB_ATTR_DATABASE" > "$R/etc/lamp/app.env"
echo "lamp-web: using database $db"
