#!/usr/bin/env bash
# npm run test:iso (root; docs/iso.md): the admin-node ISO end to end, in a private lab.
#   1. build (or reuse from the cache) the ISO: images/build-iso.sh; the installer's console
#      dialog answered over a serial console (scripts/test-iso-dialog.sh; TEST_ISO_DIALOG=0 skips)
#   2. lab/up.sh (own CBLAB_NAME/CBLAB_NET), radvd; a CROWBAR-SEED vfat image with a random
#      admin password (never printed)
#   3. qemu boots the ISO with the seed (disk first, then CD): unattended install to its disk,
#      reboot into the installed system, first-boot setup, crowbar.service
#   4. the test (in the lab namespace) waits for GET /api/v1/health, logs in as admin with the
#      seed's password
#   5. a second VM PXE-boots from the installed appliance and must become `discovered`
#   6. the admin VM is powered off and on: the appliance comes back with the node (data kept)
# TEST_ISO_FW=uefi installs and boots the admin VM with OVMF instead of SeaBIOS.
# Timings are printed; everything is removed at the end (TEST_ISO_KEEP=1 keeps the lab).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CBLAB_NAME=${CBLAB_NAME:-isotest}
export CBLAB_NET=${CBLAB_NET:-10.123.77}
export CBLAB_STATE=${CBLAB_STATE:-/var/tmp/cblab/$CBLAB_NAME}
ADMIN_IP="$CBLAB_NET.10"
T0=$SECONDS
log() { printf '[test-iso %(%H:%M:%S)T +%ss] %s\n' -1 "$((SECONDS - T0))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root"
ns() { ip netns exec "cblab-$CBLAB_NAME" "$@"; }

cleanup() {
  local rc=$?
  if [[ "${TEST_ISO_KEEP:-0}" == 1 ]]; then log "keeping the lab (CBLAB_NAME=$CBLAB_NAME lab/down.sh --purge)"; return; fi
  if ((rc != 0)) && [[ -f "$CBLAB_STATE/vm/admin/serial.log" ]]; then
    log "admin serial console (last 60 lines):"; tail -n 60 "$CBLAB_STATE/vm/admin/serial.log" | sed 's/^/  | /' >&2 || true
  fi
  bash lab/down.sh --purge >/dev/null 2>&1 || true
  log "cleaned up (rc=$rc)"
}
trap cleanup EXIT

# 1. the ISO
tb=$SECONDS
ISO=$(bash images/build-iso.sh ${TEST_ISO_BUILD_ARGS:-})
log "ISO $ISO ($(du -h "$ISO" | cut -f1)) ready in $((SECONDS - tb)) s"

# 1b. the console dialog (no seed), answered over the serial console
if [[ "${TEST_ISO_DIALOG:-1}" == 1 ]]; then
  td=$SECONDS
  bash scripts/test-iso-dialog.sh "$ISO"
  log "dialog path checked in $((SECONDS - td)) s"
fi

# 2. the lab and the seed medium
bash lab/down.sh --purge >/dev/null 2>&1 || true
bash lab/up.sh
bash lab/ra.sh start
mkdir -p "$CBLAB_STATE"
PWFILE="$CBLAB_STATE/admin.pw"
( umask 077; node -e "process.stdout.write(require('crypto').randomBytes(15).toString('base64url'))" > "$PWFILE" )
SEED="$CBLAB_STATE/seed.img"
( umask 077
  cat > "$CBLAB_STATE/crowbar-seed.conf" <<EOF
disk=auto
interface=eth0
address=$ADMIN_IP/24
domain=isotest.test
password=$(cat "$PWFILE")
host_range=$CBLAB_NET.20-$CBLAB_NET.99
dhcp_range=$CBLAB_NET.128-$CBLAB_NET.199
EOF
  rm -f "$SEED"; mkfs.vfat -C -n CROWBARSEED "$SEED" 1440 >/dev/null
  mcopy -i "$SEED" "$CBLAB_STATE/crowbar-seed.conf" ::crowbar-seed.conf
  rm -f "$CBLAB_STATE/crowbar-seed.conf" )
log "seed medium $SEED (vfat label CROWBARSEED, admin password in $PWFILE, not printed)"

# 3. boot the ISO
SER="$CBLAB_STATE/vm/admin/serial.log"
wait_serial() { # PATTERN TIMEOUT_S WHAT
  local end=$((SECONDS + $2))
  until grep -qE "$1" "$SER" 2>/dev/null; do
    ((SECONDS < end)) || die "timeout ($2 s) waiting for $3"
    bash lab/vm.sh status admin | grep -q on || die "admin VM stopped while waiting for $3"
    sleep 2
  done
}
t_on=$SECONDS
bash lab/vm.sh start admin --fw "${TEST_ISO_FW:-bios}" --cdrom "$ISO" --media "$SEED" --mem "${TEST_ISO_MEM:-1536}" --cpus 2 --disk 8G --reboot --rom none
wait_serial 'crowbar-installer .*Crowbar installer' 600 "the installer"; t_inst0=$SECONDS
log "installer started $((t_inst0 - t_on)) s after power-on"
wait_serial 'installed Crowbar .* rebooting' 1800 "the installation"; t_inst=$SECONDS
log "installed $((t_inst - t_on)) s after power-on ($(grep -oE 'to /dev/[a-z0-9]+ in [0-9]+ s' "$SER" | tail -1))"
wait_serial 'crowbar-firstboot: Crowbar .* is up' 1200 "the appliance on the installed system"; t_up=$SECONDS
log "appliance up $((t_up - t_on)) s after power-on ($((t_up - t_inst)) s after the installer's reboot)"
grep -q "$(cat "$PWFILE")" "$SER" && die "the admin password appears on the serial console"

# 4. the API from the lab network
ns curl -fsS --max-time 10 "http://$ADMIN_IP/api/v1/health" >/dev/null || die "health on $ADMIN_IP"
JAR="$CBLAB_STATE/cookies"
login() { # the first requests after a boot can be slow under TCG: up to 4 tries of 30 s
  local i
  for i in 1 2 3 4; do
    printf '{"name":"admin","password":"%s"}' "$(cat "$PWFILE")" |
      ns curl -fsS --max-time 30 -c "$JAR" -H 'content-type: application/json' --data-binary @- "http://$ADMIN_IP/api/v1/session" >/dev/null && return 0
    sleep 5
  done
  return 1
}
login || die "login as admin with the seed's password"
log "logged in as admin with the seed's password"
api() { ns curl -fsS --max-time 30 -b "$JAR" "http://$ADMIN_IP$1"; }

# 5. a machine PXE-boots from the installed appliance
t_vm=$SECONDS
bash lab/vm.sh start node1 --fw bios
MAC=$(sed -n 's/^MAC=//p' "$CBLAB_STATE/vm/node1/config" | tr -d "'\"")
end=$((SECONDS + ${TEST_ISO_DISCOVER_TIMEOUT:-600}))
until api /api/v1/nodes | node -e "
  const j=JSON.parse(require('fs').readFileSync(0,'utf8')); const ns=j.nodes??j;
  process.exit(ns.some(n => n.state==='discovered' && JSON.stringify(n).includes('$MAC')) ? 0 : 1)"; do
  ((SECONDS < end)) || die "node1 ($MAC) not discovered"
  sleep 3
done
t_disc=$SECONDS
log "node1 ($MAC) discovered $((t_disc - t_vm)) s after power-on"

# 6. the installed admin node survives a power cycle with its data
bash lab/vm.sh stop node1
bash lab/vm.sh stop admin
: > "$SER"
t_re=$SECONDS
bash lab/vm.sh start admin
wait_serial 'crowbar-firstboot: Crowbar .* is up' 900 "the appliance after a power cycle"
login || die "login after the power cycle"
api /api/v1/nodes | grep -q "$MAC" || die "node1 lost after the power cycle"
log "power cycle: appliance up again in $((SECONDS - t_re)) s, node1 still known"

cat >&2 <<EOF
[test-iso] PASS
  ISO                $(basename "$ISO") $(du -h "$ISO" | cut -f1)
  power-on -> installer       $((t_inst0 - t_on)) s
  power-on -> installed       $((t_inst - t_on)) s
  installed -> appliance up   $((t_up - t_inst)) s
  node1 power-on -> discovered $((t_disc - t_vm)) s
  total                       $((SECONDS - T0)) s
EOF
