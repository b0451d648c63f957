# Crowbar hardware-install: RAID behind one interface (busybox sh; sourced by
# hardware-install.sh, which provides log/run/fail and sets RAID=...).
#
#   raid_build LEVEL "DISKS" DEVICE CONTROLLER
#     LEVEL       raid0 | raid1 | raid5 | raid6 | raid10
#     DISKS       software: block devices ("/dev/sda /dev/sdb");
#                 storcli/perccli: enclosure:slot ids ("252:0 252:1");
#                 ssacli: port:box:bay ids ("1I:1:1 1I:1:2")
#     DEVICE      md device for software RAID (/dev/md/crowbar)
#     CONTROLLER  auto (default) | software | storcli | perccli | ssacli
#   sets RAID to ok | exists | failed (and ERR through fail).
#
# auto: disks named as block devices get software RAID (mdadm); controller drive ids
# go to the first vendor CLI on PATH that reports a controller (storcli64/storcli,
# perccli64/perccli, ssacli).
# Every backend implements the same two steps: <backend>_present and
# <backend>_create LEVEL DISKS. Commands: STORCLI, PERCCLI, SSACLI, MDADM.

raid_min_disks() {
  case "$1" in raid0) echo 2 ;; raid1) echo 2 ;; raid5) echo 3 ;; raid6) echo 4 ;; raid10) echo 4 ;; *) echo 0 ;; esac
}

# first command of a list that exists on PATH (or is an absolute executable)
raid_which() {
  for c in "$@"; do
    case "$c" in /*) [ -x "$c" ] && { echo "$c"; return 0; } ;; *) command -v "$c" >/dev/null 2>&1 && { echo "$c"; return 0; } ;; esac
  done
  return 1
}

# ---- software RAID (mdadm) -------------------------------------------------------------
software_present() { return 0; }
software_create() {
  level=$1; shift
  for d in "$@"; do
    case "$d" in /dev/*) ;; *) fail "software RAID needs block devices, got $d"; return 1 ;; esac
    if [ "${DRY_RUN:-0}" != 1 ] && [ ! -b "$d" ]; then fail "RAID_DISKS: $d is not a block device"; return 1; fi
  done
  if [ -r /proc/mdstat ]; then
    all=1
    for d in "$@"; do grep -E "^md.* : active .*${level}" /proc/mdstat | grep -q "${d##*/}\[" || all=0; done
    if [ $all = 1 ]; then log "raid: a $level array over $* exists already"; return 2; fi
  fi
  log "raid: creating $level $RAID_DEVICE over $*"
  for d in "$@"; do
    run "$MDADM" --zero-superblock --force "$d" 2>/dev/null
    # Clear old partition tables and filesystem signatures (first MiB).
    run dd if=/dev/zero of="$d" bs=1M count=1 conv=fsync 2>/dev/null || { fail "cannot clear $d"; return 1; }
  done
  run "$MDADM" --create "$RAID_DEVICE" --run --level="${level#raid}" --raid-devices=$# --metadata=1.2 --name=crowbar "$@" || { fail "mdadm --create failed"; return 1; }
  # the array as the kernel sees it, for the node log
  [ "${DRY_RUN:-0}" = 1 ] || grep -E "^md" /proc/mdstat >&2 2>/dev/null
  return 0
}

# ---- Broadcom/LSI MegaRAID (storcli) and Dell PERC (perccli: same syntax) ---------------
megaraid_present() { # CLI
  n=$("$1" show ctrlcount 2>/dev/null | sed -n 's/^Controller Count = \([0-9]*\).*/\1/p')
  [ -n "$n" ] && [ "$n" -gt 0 ]
}
megaraid_create() { # CLI LEVEL DISKS...
  cli=$1; level=$2; shift 2
  drives=""
  for d in "$@"; do
    echo "$d" | grep -Eq '^[0-9]+:[0-9]+$' || { fail "$cli drives are enclosure:slot (e.g. 252:0), got $d"; return 1; }
    drives="${drives:+$drives,}$d"
  done
  if "$cli" /c0/vall show 2>/dev/null | grep -Eq "^[0-9]+/[0-9]+ +$(echo "$level" | tr a-z A-Z) "; then
    if "$cli" /c0/vall show all 2>/dev/null | grep -q "$(echo "$drives" | cut -d, -f1)"; then log "raid: $cli: a $level volume exists already"; return 2; fi
  fi
  log "raid: $cli /c0 add vd type=$level drives=$drives"
  run "$cli" /c0 add vd "type=$level" "drives=$drives" || { fail "$cli add vd failed"; return 1; }
}
storcli_present() { megaraid_present "$STORCLI"; }
storcli_create() { megaraid_create "$STORCLI" "$@"; }
perccli_present() { megaraid_present "$PERCCLI"; }
perccli_create() { megaraid_create "$PERCCLI" "$@"; }

# ---- HPE Smart Array (ssacli) ---------------------------------------------------------
ssacli_slot() { "$SSACLI" ctrl all show 2>/dev/null | sed -n 's/.* in Slot \([0-9]*\).*/\1/p' | head -1; }
ssacli_present() { [ -n "$(ssacli_slot)" ]; }
ssacli_create() {
  level=$1; shift
  slot=$(ssacli_slot)
  drives=""
  for d in "$@"; do
    echo "$d" | grep -Eq '^[0-9A-Za-z]+:[0-9]+:[0-9]+$' || { fail "ssacli drives are port:box:bay (e.g. 1I:1:1), got $d"; return 1; }
    drives="${drives:+$drives,}$d"
  done
  if "$SSACLI" ctrl "slot=$slot" ld all show 2>/dev/null | grep -q "logicaldrive"; then
    if "$SSACLI" ctrl "slot=$slot" ld all show detail 2>/dev/null | grep -q "physicaldrive $(echo "$drives" | cut -d, -f1)"; then log "raid: ssacli: a logical drive over $1 exists already"; return 2; fi
  fi
  r=${level#raid}; [ "$r" = 10 ] && r=1+0
  log "raid: ssacli ctrl slot=$slot create type=ld drives=$drives raid=$r"
  run "$SSACLI" ctrl "slot=$slot" create type=ld "drives=$drives" "raid=$r" || { fail "ssacli create failed"; return 1; }
}

# pick the backend: explicit, or auto (block devices -> software; drive ids -> the controller
# whose CLI is on PATH and reports a controller)
raid_backend() { # CONTROLLER FIRST_DISK
  case "${1:-auto}" in
    software) echo software; return 0 ;;
    storcli|perccli|ssacli)
      [ -n "$(eval echo "\$$(echo "$1" | tr a-z A-Z)")" ] || { echo none; return 1; }
      echo "$1"; return 0 ;;
    auto)
      case "$2" in /dev/*) echo software; return 0 ;; esac
      for b in storcli perccli ssacli; do
        [ -n "$(eval echo "\$$(echo "$b" | tr a-z A-Z)")" ] && "${b}_present" && { echo "$b"; return 0; }
      done ;;
  esac
  echo none; return 1
}

raid_build() {
  level=$1; disks=$2; RAID_DEVICE=${3:-/dev/md/crowbar}; controller=${4:-auto}
  case "$level" in 0|1|5|6|10) level=raid$level ;; esac
  MDADM=${MDADM:-mdadm}
  STORCLI=${STORCLI-$(raid_which storcli64 storcli /opt/MegaRAID/storcli/storcli64)}
  PERCCLI=${PERCCLI-$(raid_which perccli64 perccli /opt/MegaRAID/perccli/perccli64)}
  SSACLI=${SSACLI-$(raid_which ssacli)}
  RAID=failed
  min=$(raid_min_disks "$level")
  [ "$min" -gt 0 ] || { fail "RAID_LEVEL $level is not supported (raid0, raid1, raid5, raid6, raid10)"; return 1; }
  # shellcheck disable=SC2086
  set -- $disks
  [ $# -ge "$min" ] || { fail "$level needs at least $min disks in RAID_DISKS"; return 1; }
  [ "$level" = raid1 ] && [ $# -ne 2 ] && { fail "raid1 needs exactly two disks"; return 1; }
  [ "$(printf '%s\n' "$@" | sort -u | wc -l)" -eq $# ] || { fail "RAID_DISKS lists a disk twice"; return 1; }
  backend=$(raid_backend "$controller" "$1") || { fail "RAID controller $controller: no controller CLI (storcli, perccli, ssacli) reports a controller for drives $*"; return 1; }
  log "raid: backend $backend"
  "${backend}_create" "$level" "$@"
  case $? in 0) RAID=ok ;; 2) RAID=exists ;; *) RAID=failed ;; esac
}
