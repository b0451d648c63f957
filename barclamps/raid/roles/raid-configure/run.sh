#!/bin/sh
# Crowbar script role raid-configure (barclamp raid). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
plan="md0 level=$CB_ATTR_LEVEL devices=$CB_ATTR_DISKS"
mkdir -p "$R/var/lib/crowbar"
echo "$plan" > "$R/var/lib/crowbar/raid.plan"
if [ "$CB_ATTR_APPLY" != "true" ] || [ -n "${CB_ROOT:-}" ]; then echo "raid-configure: plan recorded ($plan)"; exit 0; fi
command -v mdadm >/dev/null 2>&1 || { echo "raid-configure: mdadm missing" >&2; exit 1; }
n=$(echo $CB_ATTR_DISKS | wc -w)
set -- $CB_ATTR_DISKS
mdadm --create /dev/md0 --run --level="$CB_ATTR_LEVEL" --raid-devices="$n" "$@"
echo "raid-configure: /dev/md0 created"
