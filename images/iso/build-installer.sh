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
declare -A KO=() SEEN=()
while IFS= read -r f; do b=${f##*/}; b=${b%%.ko*}; KO[${b//-/_}]=$f; done < <(find "$mroot/kernel" -name '*.ko*')
BUILTIN=" $(sed -e 's#.*/##' -e 's/\.ko$//' -e 's/-/_/g' "$mroot/modules.builtin" 2>/dev/null | tr '\n' ' ') "
ORDER=()
visit() {
  local m=$1 d
  [[ -n "${SEEN[$m]:-}" ]] && return 0
  SEEN[$m]=1
  [[ "$BUILTIN" == *" $m "* ]] && return 0
  if [[ -z "${KO[$m]:-}" ]]; then log "module $m not found, skipped"; return 0; fi
  for d in $(modinfo -F depends "${KO[$m]}" | tr ',' ' '); do visit "${d//-/_}"; done
  ORDER+=("$m")
}
for m in "${MODULES[@]}"; do visit "$m"; done
for m in "${ORDER[@]}"; do
  case "${KO[$m]}" in
    *.ko.xz) xz -dc "${KO[$m]}" > "$R/lib/modules/$KVER/$m.ko" ;;
    *.ko.zst) zstd -qdc "${KO[$m]}" > "$R/lib/modules/$KVER/$m.ko" ;;
    *) cp "${KO[$m]}" "$R/lib/modules/$KVER/$m.ko" ;;
  esac
done
printf '%s\n' "${ORDER[@]}" > "$R/lib/modules/$KVER/load.order"
log "modules: ${ORDER[*]}"
for t in "${TOOLS[@]}"; do
  cp "$t" "$R$t"
  for lib in $(ldd "$t" | awk '/=>/ && $3 ~ /^\// {print $3} /^[ \t]*\// {print $1}'); do
    [[ -e "$R$lib" ]] && continue
    mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"
  done
done
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
