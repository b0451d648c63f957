#!/usr/bin/env bash
# The ISO's installer initramfs (called by images/build-iso.sh):
#   build-installer.sh MODULES_TAR KERNEL_VERSION OUT_IMG
# busybox-static, the disk/CD/NIC/filesystem modules of the ISO's kernel in dependency order,
# sfdisk, mkfs.ext4, mkfs.vfat, unsquashfs and blkid copied from this Debian 12 system with
# the libraries ldd reports, and installer/init. Reproducible like the discovery image.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MTAR=$1 KVER=$2 OUTIMG=$3
log() { printf '[build-installer] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=../lib/initramfs.sh
. "$HERE/../lib/initramfs.sh"
TOOLS=(/usr/sbin/sfdisk /usr/sbin/mke2fs /usr/sbin/mkfs.vfat /usr/bin/unsquashfs /usr/sbin/blkid /usr/sbin/wipefs)
MODULES=(virtio_pci virtio_blk virtio_scsi virtio_net e1000 e1000e igb ixgbe tg3 r8169
         ahci ata_piix sd_mod sr_mod nvme xhci_pci ehci_pci usb_storage uas
         crc32c_generic crc32c_intel libcrc32c isofs squashfs loop ext4 vfat nls_cp437 nls_utf8 nls_ascii)
for t in /bin/busybox "${TOOLS[@]}"; do [[ -x "$t" ]] || die "$t missing (scripts/setup.sh)"; done
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
tar -xf "$MTAR" -C "$W"
mroot="$W/lib/modules/$KVER"
[[ -d "$mroot/kernel" ]] || die "no modules for $KVER in $MTAR"
R="$W/root"
mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,usr/bin,usr/sbin,lib/modules/"$KVER"}
cp /bin/busybox "$R/bin/busybox"; ln -s busybox "$R/bin/sh"
initramfs_modules "$R" "$KVER" "$mroot" "${MODULES[@]}"
initramfs_tools "$R" "${TOOLS[@]}"
ln -s mke2fs "$R/usr/sbin/mkfs.ext4"
cp /etc/mke2fs.conf "$R/etc/mke2fs.conf"
install -m 0755 "$HERE/installer/init" "$R/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
echo "$KVER" > "$R/etc/kernel-version"
: "${SOURCE_DATE_EPOCH:=$(stat -c %Y "$MTAR")}"
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$(dirname "$OUTIMG")"
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -n -6) > "$OUTIMG"
log "built $OUTIMG ($(du -h "$OUTIMG" | cut -f1))"
