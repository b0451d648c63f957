#!/bin/sh
# Crowbar script role raid-configure (barclamp raid). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path read or written (tests use a scratch dir,
# and never run mdadm).
set -eu
R="${CB_ROOT:-}"
plan="md0 level=$CB_ATTR_LEVEL devices=$CB_ATTR_DISKS"
mkdir -p "$R/var/lib/crowbar"
echo "$plan" > "$R/var/lib/crowbar/raid.plan"
if [ "$CB_ATTR_APPLY" != "true" ]; then echo "raid-configure: plan recorded ($plan)"; exit 0; fi
# Already built (by hardware-install, or the image install put the root on it): every disk, or a
# partition of it, is a member of an active array. Creating again would destroy the running system.
member=0; total=0
for d in $CB_ATTR_DISKS; do
  total=$((total + 1)); b=${d#/dev/}
  grep -Eq "(^| )${b}(p?[0-9]+)?\[[0-9]+\]" "$R/proc/mdstat" 2>/dev/null && member=$((member + 1))
done
if [ "$total" -gt 0 ] && [ "$member" -eq "$total" ]; then echo "raid-configure: $CB_ATTR_DISKS already in an active array, nothing to do"; exit 0; fi
if [ -n "${CB_ROOT:-}" ]; then echo "raid-configure: plan recorded ($plan; test root, mdadm not run)"; exit 0; fi
command -v mdadm >/dev/null 2>&1 || { echo "raid-configure: mdadm missing" >&2; exit 1; }
n=$(echo $CB_ATTR_DISKS | wc -w)
set -- $CB_ATTR_DISKS
mdadm --create /dev/md0 --run --level="$CB_ATTR_LEVEL" --raid-devices="$n" "$@"
echo "raid-configure: /dev/md0 created"
