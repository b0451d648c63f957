#!/usr/bin/env bash
# The installer's console dialog (no seed), answered through the serial console:
#   scripts/test-iso-dialog.sh ISO     (root; run by scripts/test-iso.sh; about 2 min under TCG)
# Boots the ISO's kernel + installer directly (qemu -kernel/-initrd, `crowbar.noseed`, the ISO
# as CD, a blank disk, no network), waits for each question on the serial output and types an
# answer; passes when the installer starts installing with exactly those answers, then stops
# the VM (the real installation is covered by test-iso.sh). The typed password must not be
# echoed.
set -euo pipefail
ISO=$1
T0=$SECONDS
log() { printf '[test-iso-dialog %(%H:%M:%S)T +%ss] %s\n' -1 "$((SECONDS - T0))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
W=$(mktemp -d /var/tmp/crowbar-dialog.XXXXXX)
QPID=""
cleanup() { [[ -n "$QPID" ]] && kill "$QPID" 2>/dev/null; exec 3>&- 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
xorriso -osirrox on -indev "$ISO" -extract /boot/vmlinuz "$W/vmlinuz" -extract /boot/installer.img "$W/installer.img" >/dev/null 2>&1 ||
  die "cannot extract the kernel and installer from $ISO"
qemu-img create -q -f qcow2 "$W/disk.qcow2" 6G
mkfifo "$W/in"
qemu-system-x86_64 -machine q35 -accel tcg -m 768 -display none -nic none -no-reboot \
  -kernel "$W/vmlinuz" -initrd "$W/installer.img" -append "console=ttyS0,115200 crowbar.noseed" \
  -drive "if=none,id=cd0,file=$ISO,format=raw,media=cdrom,readonly=on" -device ide-cd,drive=cd0,bus=ide.0 \
  -drive "if=none,id=d0,file=$W/disk.qcow2,format=qcow2" -device virtio-blk-pci,drive=d0 \
  -serial stdio < "$W/in" > "$W/serial.log" 2>&1 &
QPID=$!
exec 3> "$W/in"
PW="dialog-$RANDOM$RANDOM-pw"
answer() { # PROMPT ANSWER
  local end=$((SECONDS + 600))
  until grep -qaF "$1" "$W/serial.log"; do
    ((SECONDS < end)) || { tail -20 "$W/serial.log" >&2; die "no prompt '$1'"; }
    kill -0 "$QPID" 2>/dev/null || { tail -20 "$W/serial.log" >&2; die "qemu exited"; }
    sleep 1
  done
  sleep 0.5
  printf '%s\r' "$2" >&3
}
answer "Install to disk (ERASED)" "/dev/vda"
log "first question after $((SECONDS - T0)) s"
answer "Admin network interface" "eth0"
answer "Admin address/prefix" "10.99.0.5/24"
answer "Admin DNS domain" "dialog.test"
answer "Admin password" "$PW"
answer "Erase /dev/vda and install Crowbar?" "yes"
end=$((SECONDS + 300))
until grep -qaE 'installing to /dev/vda: admin interface eth0, address 10\.99\.0\.5/24, domain dialog\.test' "$W/serial.log"; do
  ((SECONDS < end)) || { tail -20 "$W/serial.log" >&2; die "the installer did not start with the answers"; }
  sleep 1
done
grep -qaF "$PW" "$W/serial.log" && die "the typed password was echoed on the console"
log "PASS: the dialog's answers reached the installer ($((SECONDS - T0)) s)"
