#!/usr/bin/env bash
# Decide the accelerator for lab VMs once and cache it in $CBLAB_CACHE/lab-accel:
# boots the discovery kernel+initrd (no network) under KVM and checks that it
# reaches the agent within a time limit. Some hosts expose a /dev/kvm that
# cannot boot a stock Linux kernel in reasonable time (nested "PVM" devices);
# then TCG is used. Usage: check-kvm.sh [IMAGE_DIR] [TIMEOUT_S (30)]
source "$(dirname "$0")/lib.sh"
lab_need_root
IMG=${1:-/var/cache/crowbar/discovery/image}; T=${2:-30}
accel=tcg
if [[ -r /dev/kvm && -w /dev/kvm && -f "$IMG/vmlinuz" ]]; then
  log=$(mktemp)
  timeout "$T" qemu-system-x86_64 -accel kvm -cpu host,-arch-capabilities -machine q35 -m 256 -display none -nic none \
    -no-reboot -serial "file:$log" -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "console=ttyS0 panic=1" > /dev/null 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do grep -qa 'crowbar-agent' "$log" && { accel=kvm; break; }; sleep 0.3; done
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  rm -f "$log"
fi
mkdir -p "$CBLAB_CACHE"; echo "$accel" > "$CBLAB_CACHE/lab-accel"
lab_log "lab VMs use $accel (cached in $CBLAB_CACHE/lab-accel)"
echo "$accel"
