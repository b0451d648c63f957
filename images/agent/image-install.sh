#!/bin/sh
# Image-based install (docs/image-install.md), run by agent.sh when
# GET /api/v1/agent/next answers `image-install`. /tmp/next.json holds the plan
# (image_url, image_sha256, image_format, hostname, domain, admin_*, appliance_url).
# Steps: pick the target disk (or, for the plan's `raid1` layout, two disks with
# a software RAID 1 for the root), partition it (GPT: BIOS boot, ESP, root), mke2fs
# the root, stream the image (wget | tee sha256 | zstd -d | tar -x; never a full copy in RAM),
# write hostname, admin network (systemd-networkd), appliance URL and the join
# token (0600, fetched now with the node token), install GRUB for BIOS
# (i386-pc) and UEFI (x86_64-efi --removable) from a chroot. Exits non-zero
# with a one-line `error:` on stdout's last line when a step fails.
. /agent/lib.sh
P=/tmp/next.json
T=/mnt/target
fail() { echo "error: $*"; say "image-install: $*"; umount_all; exit 1; }
umount_all() {
  for m in "$T/boot/efi" "$T/dev/pts" "$T/dev" "$T/proc" "$T/sys/firmware/efi/efivars" "$T/sys" "$T/run" "$T"; do
    grep -q " $m " /proc/mounts 2>/dev/null && umount "$m" 2>/dev/null
  done
  return 0
}
url=$(json_str image_url $P); sha=$(json_str image_sha256 $P); fmt=$(json_str image_format $P)
host=$(json_str hostname $P); domain=$(json_str domain $P)
addr=$(json_str admin_address $P); prefix=$(json_num admin_prefix $P); router=$(json_str admin_router $P)
dns=$(json_str admin_dns $P); appliance=$(json_str appliance_url $P)
[ -n "$url" ] && [ -n "$sha" ] && [ -n "$host" ] && [ -n "$addr" ] || fail "incomplete plan: $(head -c 300 $P)"
# tar.zst (what images/build-root-image.sh writes) or tar.gz
case "$fmt" in
  tar.zst) unpack() { zstd -dcq | tar -xf - -C "$T"; } ;;
  tar.gz) unpack() { tar -xzf - -C "$T"; } ;;
  *) fail "image format $fmt is not supported (tar.zst, tar.gz)" ;;
esac

# 1. target: the plan's layout. `single`: the first whole disk (virtio, SCSI/SATA, NVMe; a
# controller's RAID volume is such a disk). `raid1`: software RAID 1 over the plan's two disks.
layout=$(json_str disk_layout $P); want=$(json_str disks $P)
pfx() { case "$1" in *nvme*) echo "${1}p" ;; *) echo "$1" ;; esac; }
disk=""; disk2=""
if [ "$layout" = raid1 ]; then
  for d in $want; do
    [ -b "/dev/$d" ] || fail "raid1 layout: disk /dev/$d of the plan ($want) is not present"
    if [ -z "$disk" ]; then disk=/dev/$d; elif [ -z "$disk2" ]; then disk2=/dev/$d; fi
  done
  [ -n "$disk2" ] || fail "raid1 layout needs two disks, the plan names '$want'"
else
  for d in /sys/block/vd? /sys/block/sd? /sys/block/nvme?n1 /sys/block/xvd?; do
    [ -e "$d" ] || continue
    [ "$(cat "$d/removable" 2>/dev/null)" = 1 ] && continue
    [ "$(cat "$d/size")" -gt 4194304 ] || continue   # at least 2 GiB
    disk=/dev/${d##*/}; break
  done
  [ -n "$disk" ] || fail "no disk of at least 2 GiB found"
fi
part=$(pfx "$disk")
say "image-install: target $disk${disk2:+ + $disk2 (raid1)}, image $url"
t0=$(cut -d. -f1 /proc/uptime)

# 2. partitions: 1 BIOS boot (1 MiB), 2 ESP (127 MiB), 3 root (rest; Linux RAID on raid1).
# Arrays left by hardware-install or an earlier install are stopped and their superblocks wiped.
umount_all
for md in /dev/md*; do [ -b "$md" ] && mdadm --stop "$md" >/dev/null 2>&1; done
rtype=8300; [ -n "$disk2" ] && rtype=FD00
for d in $disk $disk2; do
  mdadm --zero-superblock "$d" >/dev/null 2>&1
  sgdisk --zap-all "$d" >/dev/null 2>&1
  sgdisk -n 1:2048:+1M -t 1:EF02 -c 1:bios -n 2:0:+127M -t 2:EF00 -c 2:esp -n 3:0:0 -t 3:$rtype -c 3:root "$d" >/tmp/sgdisk.out 2>&1 \
    || fail "sgdisk $d failed: $(tail -1 /tmp/sgdisk.out)"
done
mdev -s; sleep 1; mdev -s
for d in $disk $disk2; do [ -b "$(pfx "$d")3" ] || fail "partition $(pfx "$d")3 did not appear"; done
root=${part}3
if [ -n "$disk2" ]; then
  # RAID 1 (metadata 1.2) over both root partitions; it resyncs in the background while the image is
  # written. The installed system's initramfs (mdadm in the root image) assembles it by its UUID.
  root=/dev/md0
  for d in $disk $disk2; do mdadm --zero-superblock "$(pfx "$d")3" >/dev/null 2>&1; done
  mdadm --create "$root" --run --level=1 --raid-devices=2 --metadata=1.2 --name=root --homehost="$host" \
    "${part}3" "$(pfx "$disk2")3" >/tmp/mdadm.out 2>&1 || fail "mdadm --create: $(tail -1 /tmp/mdadm.out)"
  mdev -s
  [ -b "$root" ] || fail "$root did not appear after mdadm --create"
fi
uuid=$(cat /proc/sys/kernel/random/uuid)
/usr/sbin/mke2fs -q -F -t ext4 -U "$uuid" -L root "$root" >/tmp/mkfs.out 2>&1 || fail "mke2fs failed: $(tail -1 /tmp/mkfs.out)"
mkdir -p "$T"
mount -t ext4 "$root" "$T" || fail "cannot mount $root"
t1=$(cut -d. -f1 /proc/uptime)
say "image-install: partitioned in $((t1 - t0)) s"

# 3. stream the image; its checksum is computed on the way
rm -f /tmp/img.fifo /tmp/img.sha; mkfifo /tmp/img.fifo
sha256sum < /tmp/img.fifo > /tmp/img.sha &
wget -q -O - "$url" 2>/tmp/wget.err | tee /tmp/img.fifo | unpack 2>/tmp/tar.err
rc=$?
wait
got=$(cut -d' ' -f1 /tmp/img.sha)
[ $rc -eq 0 ] || fail "download/extract failed (status $rc): $(tail -1 /tmp/wget.err) $(tail -1 /tmp/tar.err)"
[ "$got" = "$sha" ] || fail "image checksum $got does not match $sha"
t2=$(cut -d. -f1 /proc/uptime)
say "image-install: image written in $((t2 - t1)) s ($(df -h "$T" | awk 'NR==2{print $3}') used)"

# 4. identity, network, join credentials
echo "$host" > "$T/etc/hostname"
printf '127.0.0.1\tlocalhost\n%s\t%s.%s %s\n' "$addr" "$host" "$domain" "$host" > "$T/etc/hosts"
mac=$(cat /sys/class/net/"$(cat /run/agent.iface 2>/dev/null || echo none)"/address 2>/dev/null)
[ -n "$mac" ] || mac=$MAC
mkdir -p "$T/etc/systemd/network"
{
  printf '[Match]\nMACAddress=%s\n\n[Network]\nAddress=%s/%s\nDNS=%s\nDomains=%s\n' "$mac" "$addr" "$prefix" "$dns" "$domain"
  [ -n "$router" ] && printf 'Gateway=%s\n' "$router"
} > "$T/etc/systemd/network/10-crowbar-admin.network"
printf '%s\n' "nameserver $dns" "search $domain" > "$T/etc/resolv.conf"
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" > "$T/etc/fstab"
mkdir -p "$T/etc/crowbar"; chmod 0700 "$T/etc/crowbar"
if ! http POST /api/v1/agent/join-token /dev/null; then fail "join token request failed: HTTP $HTTP_CODE"; fi
jt=$(json_str token /tmp/http.body)
[ -n "$jt" ] || fail "no join token in the reply"
TOKEN=$jt; echo "$jt" > /run/agent.token
(umask 077; printf '%s\n' "$jt" > "$T/etc/crowbar/token")
rm -f /tmp/http.body
chmod 0600 "$T/etc/crowbar/token"
printf 'CROWBAR_URL=%s\nCROWBAR_NODE=%s\n' "$appliance" "$NODE" > "$T/etc/crowbar/join.conf"
date -u +%Y-%m-%dT%H:%M:%SZ > "$T/etc/crowbar/installed-at"

# 5. boot loader: BIOS and UEFI from a chroot (the image carries grub-pc-bin + grub-efi-amd64-bin),
# on both disks of a RAID 1 so either one boots alone.
mkdir -p "$T/boot/efi"
for m in dev dev/pts proc sys run; do mount --bind "/$m" "$T/$m" || fail "bind mount /$m"; done
for d in $disk $disk2; do
  chroot "$T" mkfs.vfat -F 32 -n ESP "$(pfx "$d")2" >/tmp/vfat.out 2>&1 || fail "mkfs.vfat $(pfx "$d")2: $(tail -1 /tmp/vfat.out)"
done
mount -t vfat "${part}2" "$T/boot/efi" || fail "cannot mount the ESP"
say "image-install: ESP formatted; GRUB on $disk${disk2:+ and $disk2}"
for d in $disk $disk2; do
  chroot "$T" grub-install --target=i386-pc "$d" >/tmp/grub.out 2>&1 || fail "grub-install i386-pc $d: $(tail -1 /tmp/grub.out)"
done
chroot "$T" grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram >>/tmp/grub.out 2>&1 \
  || fail "grub-install x86_64-efi: $(tail -1 /tmp/grub.out)"
if [ -n "$disk2" ]; then
  mkdir -p /tmp/esp2
  mount -t vfat "$(pfx "$disk2")2" /tmp/esp2 || fail "cannot mount the second ESP"
  cp -a "$T/boot/efi/." /tmp/esp2/ || { umount /tmp/esp2; fail "cannot copy the ESP to $disk2"; }
  umount /tmp/esp2
  # The array in the installed system's mdadm.conf, and that file added to its initramfs (which
  # already carries mdadm and the md modules) as one more cpio archive appended to the initrd:
  # the kernel unpacks concatenated archives in order, later files win. A full update-initramfs
  # in the chroot did not finish within 10 minutes under TCG in the lab.
  mkdir -p "$T/etc/mdadm" "$T/tmp/mdinit/etc/mdadm"
  { echo "# written by the Crowbar image install"; echo "HOMEHOST <system>"; mdadm --detail --scan; } > "$T/etc/mdadm/mdadm.conf"
  grep -q '^ARRAY ' "$T/etc/mdadm/mdadm.conf" || fail "mdadm --detail --scan found no array"
  cp "$T/etc/mdadm/mdadm.conf" "$T/tmp/mdinit/etc/mdadm/mdadm.conf"
  # the image's own cpio and gzip (initramfs-tools needs them); busybox's cpio cannot create archives
  for ird in "$T"/boot/initrd.img-*; do
    chroot "$T" sh -c 'cd /tmp/mdinit && find etc | cpio -o -H newc --quiet | gzip -9' >> "$ird" || fail "cannot add mdadm.conf to $ird"
  done
  rm -rf "$T/tmp/mdinit"
  say "image-install: second ESP written; array $(sed -n 's/^ARRAY \([^ ]*\).*/\1/p' "$T/etc/mdadm/mdadm.conf") in mdadm.conf and the initramfs"
fi
k=$(cd "$T/boot" && ls vmlinuz-* | sort | tail -1); i=initrd.img-${k#vmlinuz-}
[ -f "$T/boot/$i" ] || fail "no initrd for $k in the image"
cat > "$T/boot/grub/grub.cfg" <<CFG
# written by the Crowbar image install (docs/image-install.md)
set timeout=1
set default=0
insmod part_gpt
$([ -n "$disk2" ] && echo insmod mdraid1x)
insmod ext2
search --no-floppy --fs-uuid --set=root $uuid
menuentry "Debian ($host)" {
  linux /boot/$k root=UUID=$uuid ro console=tty0 console=ttyS0,115200n8
  initrd /boot/$i
}
CFG
# 6. UEFI firmware: a boot entry for the disk's removable path, right after the entry this boot
# came from (BootCurrent: the network boot), so iPXE's `exit 1` (boot group local, pxe/local.ipxe)
# falls through to the disk while the network stays first. Firmware does not always make an entry
# for a new disk by itself.
if [ -d /sys/firmware/efi ]; then
  grep -q efivarfs /proc/mounts || mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
  efibootmgr > /tmp/efi.before 2>&1 || fail "efibootmgr cannot read the boot entries: $(tail -1 /tmp/efi.before)"
  for old in $(sed -n 's/^Boot\([0-9A-F]\{4\}\)[* ] crowbar-disk.*/\1/p' /tmp/efi.before); do efibootmgr -q -b "$old" -B >/dev/null 2>&1; done
  efibootmgr -q -c -d "$disk" -p 2 -L crowbar-disk -l '\EFI\BOOT\BOOTX64.EFI' > /tmp/efi.out 2>&1 || fail "efibootmgr -c: $(tail -1 /tmp/efi.out)"
  efibootmgr > /tmp/efi.after 2>&1
  new=$(sed -n 's/^Boot\([0-9A-F]\{4\}\)[* ] crowbar-disk.*/\1/p' /tmp/efi.after | head -1)
  [ -n "$new" ] || fail "efibootmgr -c made no crowbar-disk entry: $(head -c 300 /tmp/efi.after)"
  cur=$(sed -n 's/^BootCurrent: //p' /tmp/efi.after)
  rest=$(sed -n 's/^BootOrder: //p' /tmp/efi.after | tr ',' ' ')
  order=""
  [ -n "$cur" ] && order="$cur"
  order="$order $new"
  for n in $rest; do [ "$n" = "$new" ] || [ "$n" = "$cur" ] || order="$order $n"; done
  order=$(echo $order | tr ' ' ,)
  efibootmgr -q -o "$order" > /tmp/efi.out 2>&1 || fail "efibootmgr -o $order: $(tail -1 /tmp/efi.out)"
  say "image-install: UEFI entry Boot$new (crowbar-disk) after Boot${cur:-?}; BootOrder $order"
fi
sync
umount_all
t3=$(cut -d. -f1 /proc/uptime)
say "image-install: boot loader (BIOS + UEFI) in $((t3 - t2)) s; total $((t3 - t0)) s"
if [ -n "$disk2" ]; then echo "image-install: done on $root (raid1 $disk $disk2)"; else echo "image-install: done on $disk"; fi
exit 0
