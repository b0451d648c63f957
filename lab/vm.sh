#!/usr/bin/env bash
# A "bare-metal" lab machine: a qemu VM on the lab bridge that network-boots.
#
# vm.sh start NAME [options]    options are saved; a later `start NAME` (or a BMC
#                               power-on) starts the same machine again
#   --mac MAC          NIC MAC (default 52:54:00:cb:xx:yy derived from NAME)
#   --fw bios|uefi     SeaBIOS (default) or OVMF
#   --nic virtio|e1000 NIC model (default virtio)
#   --rom ipxe|none    ipxe (default): qemu's own iPXE NIC ROM; none: no ROM (with uefi,
#                      OVMF's own PXE client -> TFTP snponly.efi -> iPXE)
#   --mem MB (256)  --cpus N (1)  --disk SIZE|none (4G, sparse qcow2)
#   --disks N          number of such disks (1; disk N>1 has serial DSK-<serial>-N), e.g. 2 for RAID1
#   --serialno S       DMI system serial (default CB-<NAME>)
#   --reboot           a guest reboot restarts the VM (default: reboot = power off, -no-reboot)
#   --cdrom ISO        attach ISO as a CD-ROM (AHCI), booted after the disk: an empty disk falls
#                      through to the CD, an installed one boots itself (the admin-node ISO test)
#   --media IMG        attach IMG as an extra read-only virtio disk (e.g. a CROWBAR-SEED image)
#   --ipmi-port H:P    in-band IPMI: a KCS interface (qemu ipmi-bmc-extern + isa-ipmi-kcs) wired to
#                      the BMC simulator's "serial ... codec VM" port at H:P (bmc.sh --inband sets it)
# vm.sh stop NAME | status NAME | wait NAME [TIMEOUT_S] | list
# The boot device (pxe|disk) comes from $CBLAB_STATE/vm/NAME/bootdev (written by the BMC).
source "$(dirname "$0")/lib.sh"
lab_need_root
cmd=${1:-}; name=${2:-}
if [[ "$cmd" == list ]]; then
  for d in "$CBLAB_STATE"/vm/*/; do
    [[ -d "$d" ]] || continue
    if lab_pid_alive "$d/qemu.pid"; then echo "$(basename "$d") on"; else echo "$(basename "$d") off"; fi
  done
  exit 0
fi
[[ -n "$name" && "$name" =~ ^[a-z0-9][a-z0-9-]{0,10}$ ]] || lab_die "usage: vm.sh start|stop|status|wait NAME (NAME: a-z0-9-, max 11 chars)"
D="$CBLAB_STATE/vm/$name"
shift 2
case "$cmd" in
  stop) lab_kill_pidfile "$D/qemu.pid"; exit 0 ;;
  status) if lab_pid_alive "$D/qemu.pid"; then echo on; else echo off; fi; exit 0 ;;
  wait) t=${1:-600}; end=$((SECONDS + t)); while lab_pid_alive "$D/qemu.pid"; do ((SECONDS < end)) || exit 1; sleep 0.3; done; exit 0 ;;
  start) ;;
  *) lab_die "unknown command $cmd" ;;
esac
mkdir -p "$D"
hex=$(printf '%s' "$CBLAB_NAME/$name" | md5sum | cut -c1-4)
MAC="52:54:00:cb:${hex:0:2}:${hex:2:2}"; FW=bios; NIC=virtio; ROM=ipxe; MEM=256; CPUS=1; DISK=4G; SERIALNO="CB-$name"; REBOOT=0; IPMI_PORT=; DISKS=1; CDROM=; MEDIA=
[[ -f "$D/config" ]] && source "$D/config"
while (($#)); do
  case "$1" in
    --mac) MAC=$2; shift ;; --fw) FW=$2; shift ;; --nic) NIC=$2; shift ;; --rom) ROM=$2; shift ;;
    --mem) MEM=$2; shift ;; --cpus) CPUS=$2; shift ;; --disk) DISK=$2; shift ;; --serialno) SERIALNO=$2; shift ;;
    --reboot) REBOOT=1 ;; --ipmi-port) IPMI_PORT=$2; shift ;; --disks) DISKS=$2; shift ;;
    --cdrom) CDROM=$(readlink -f "$2"); shift ;; --media) MEDIA=$(readlink -f "$2"); shift ;;
    *) lab_die "unknown option $1" ;;
  esac
  shift
done
[[ "$FW" == bios || "$FW" == uefi ]] || lab_die "--fw bios|uefi"
[[ "$DISKS" =~ ^[1-8]$ ]] || lab_die "--disks 1-8"
declare -p MAC FW NIC ROM MEM CPUS DISK SERIALNO REBOOT IPMI_PORT DISKS CDROM MEDIA | sed 's/^declare -- //' > "$D/config"
[[ -n "${CBLAB_CONFIG_ONLY:-}" ]] && exit 0
lab_pid_alive "$D/qemu.pid" && { rm -f "$D/starting"; lab_log "vm $name already on"; exit 0; }

TAP="t-$name"
lab_ns ip link show "$TAP" >/dev/null 2>&1 || lab_ns ip tuntap add dev "$TAP" mode tap
lab_ns ip link set "$TAP" master "$CBLAB_BR" up

accel=$(lab_accel)
if [[ "$accel" == kvm ]]; then ACC=(-accel kvm -cpu host,-arch-capabilities); else ACC=(-accel tcg); fi
uuid=$(printf '%s' "$CBLAB_NAME/$name" | md5sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
bootdev=$(cat "$D/bootdev" 2>/dev/null || echo pxe)
if [[ "$bootdev" == disk ]]; then nic_bi=2; disk_bi=1; else nic_bi=1; disk_bi=2; fi
# a machine with a CD boots disk, then CD, then (last) the network
[[ -n "$CDROM" ]] && { disk_bi=1; cd_bi=2; nic_bi=3; }
case "$NIC" in virtio) NICDEV=virtio-net-pci ;; e1000) NICDEV=e1000 ;; *) lab_die "--nic virtio|e1000" ;; esac
# Leave qemu's default NIC ROM (efi-virtio.rom / efi-e1000.rom: BIOS + EFI iPXE). Passing the
# same file explicitly as romfile= breaks BIOS boot: qemu patches the PCI ids only of its default.
case "$ROM" in ipxe) ROMOPT="" ;; none) ROMOPT=",romfile=" ;; *) lab_die "--rom ipxe|none" ;; esac
Q=(qemu-system-x86_64 -name "$name" -machine q35 "${ACC[@]}" -m "$MEM" -smp "$CPUS" -display none
   -monitor "unix:$D/monitor.sock,server,nowait"
   -chardev "file,id=ser0,path=$D/serial.log,append=on" -serial chardev:ser0
   -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
   -device "$NICDEV,netdev=n0,mac=$MAC$ROMOPT,bootindex=$nic_bi"
   -smbios "type=1,manufacturer=CrowbarLab,product=LabServer,version=1,serial=$SERIALNO,uuid=$uuid,sku=lab"
   -smbios "type=3,manufacturer=CrowbarLab,serial=CH-$SERIALNO" -uuid "$uuid")
((REBOOT)) || Q+=(-no-reboot)
if [[ "$DISK" != none ]]; then
  [[ -f "$D/disk.qcow2" ]] || qemu-img create -q -f qcow2 "$D/disk.qcow2" "$DISK"
  Q+=(-drive "if=none,id=d0,file=$D/disk.qcow2,format=qcow2" -device "virtio-blk-pci,drive=d0,serial=DSK-$SERIALNO,bootindex=$disk_bi")
  for ((i = 2; i <= DISKS; i++)); do
    [[ -f "$D/disk$i.qcow2" ]] || qemu-img create -q -f qcow2 "$D/disk$i.qcow2" "$DISK"
    Q+=(-drive "if=none,id=d$i,file=$D/disk$i.qcow2,format=qcow2" -device "virtio-blk-pci,drive=d$i,serial=DSK-$SERIALNO-$i")
  done
fi
if [[ -n "$CDROM" ]]; then
  [[ -f "$CDROM" ]] || lab_die "--cdrom $CDROM: no such file"
  Q+=(-drive "if=none,id=cd0,file=$CDROM,format=raw,media=cdrom,readonly=on" -device "ide-cd,drive=cd0,bus=ide.0,bootindex=$cd_bi")
fi
if [[ -n "$MEDIA" ]]; then
  [[ -f "$MEDIA" ]] || lab_die "--media $MEDIA: no such file"
  Q+=(-drive "if=none,id=m0,file=$MEDIA,format=raw,readonly=on" -device "virtio-blk-pci,drive=m0,serial=MEDIA-$SERIALNO")
fi
if [[ "$FW" == uefi ]]; then
  [[ -f "$D/OVMF_VARS.fd" ]] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$D/OVMF_VARS.fd"
  Q+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
      -drive "if=pflash,format=raw,unit=1,file=$D/OVMF_VARS.fd")
else
  # SeaBIOS "sercon": mirror the BIOS/iPXE console to the serial port (0x3f8)
  printf '\xf8\x03' > "$D/sercon-port"
  Q+=(-fw_cfg "name=etc/sercon-port,file=$D/sercon-port")
fi
if [[ -n "$IPMI_PORT" ]]; then
  Q+=(-chardev "socket,id=ipmi0,host=${IPMI_PORT%:*},port=${IPMI_PORT##*:},reconnect=2"
      -device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0,ioport=0xca2)
fi
printf '%q ' "${Q[@]}" > "$D/cmdline"
echo "=== lab $(date -Is) power on $name fw=$FW nic=$NIC mac=$MAC bootdev=$bootdev accel=$accel ===" >> "$D/serial.log"
lab_now_ms > "$D/started_at_ms"
ip netns exec "$CBLAB_NS" setsid "${Q[@]}" > "$D/qemu.log" 2>&1 < /dev/null &
echo $! > "$D/qemu.pid"
rm -f "$D/starting"
sleep 0.3
lab_pid_alive "$D/qemu.pid" || { cat "$D/qemu.log" >&2; lab_die "qemu for $name exited at once"; }
lab_log "vm $name on: pid $(cat "$D/qemu.pid") fw=$FW mac=$MAC accel=$accel serial $D/serial.log"
