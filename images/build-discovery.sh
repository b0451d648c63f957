#!/usr/bin/env bash
# Build the Crowbar discovery image ("sledgehammer"): a Debian kernel plus a
# small initramfs (busybox-static, the NIC/disk/IPMI/RAID modules, dmidecode,
# ipmitool, mdadm, sgdisk, parted, efibootmgr and our agent from images/agent/).
#
# Usage: images/build-discovery.sh [--cache DIR] [--out DIR] [--force]
#   --cache DIR  build cache (default /var/cache/crowbar/discovery); the kernel .deb
#                and the built image live there, keyed by a hash of every input.
#   --out DIR    also install vmlinuz + initrd.img into DIR (e.g. <data_dir>/images/discovery)
#   --force      rebuild even when the cache is up to date
# Prints the directory holding vmlinuz and initrd.img.
#
# Inputs come only from the Debian archive: the kernel is `apt-get download`ed
# (the package linux-image-amd64 depends on) and unpacked with `dpkg-deb -x`
# into the cache (never installed, /boot untouched); the tools are copied from
# the installed Debian packages with the shared libraries ldd reports.
# Reproducible: files sorted, owners 0:0, mtimes = SOURCE_DATE_EPOCH (default:
# the kernel package's changelog date), `cpio --reproducible`, `gzip -n`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=/var/cache/crowbar/discovery
OUT=""
FORCE=0
while (($#)); do
  case "$1" in
    --cache) CACHE=$2; shift ;;
    --out) OUT=$2; shift ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-discovery: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
log() { printf '[build-discovery] %s\n' "$*" >&2; }
# shellcheck source=lib/initramfs.sh
. "$HERE/lib/initramfs.sh"
die() { log "ERROR: $*"; exit 1; }

TOOLS=(/usr/sbin/dmidecode /usr/bin/ipmitool /usr/sbin/mdadm /usr/sbin/sgdisk /usr/sbin/parted /usr/bin/efibootmgr /usr/sbin/mke2fs /usr/bin/zstd)
# Kernel modules wanted; their dependencies are added (modinfo) and the load
# order written to load.order. Missing or built-in ones are skipped.
MODULES=(virtio_pci virtio_net e1000 e1000e igb ixgbe tg3 r8169
         virtio_blk virtio_scsi ahci ata_piix sd_mod nvme
         ipmi_si ipmi_devintf raid0 raid1 raid10 raid456 md_mod efivarfs
         crc32c_generic crc32c_intel ext4 vfat nls_cp437 nls_ascii nls_utf8 nls_iso8859_1)

for t in /bin/busybox "${TOOLS[@]}"; do [[ -x "$t" ]] || die "$t missing (run scripts/setup.sh as root)"; done
for c in apt-get apt-cache dpkg-deb modinfo cpio gzip ldd sha256sum; do command -v "$c" >/dev/null || die "$c missing"; done
file_static() { ! ldd "$1" >/dev/null 2>&1; }
file_static /bin/busybox || die "/bin/busybox is not static (install busybox-static)"

mkdir -p "$CACHE/deb"
# 1. the kernel package linux-image-amd64 points to
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [[ -z "$kpkg" ]]; then apt-get update -qq; kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
[[ -n "$kpkg" ]] || die "cannot resolve the kernel package of linux-image-amd64"
kverpkg=$(apt-cache policy "$kpkg" | awk '/Candidate:/{print $2}')
deb=$(ls "$CACHE/deb/${kpkg}_"*"_amd64.deb" 2>/dev/null | sort | tail -1 || true)
if [[ -z "$deb" ]]; then
  log "downloading $kpkg $kverpkg from the Debian archive"
  (cd "$CACHE/deb" && apt-get download -q "$kpkg" >/dev/null) || die "apt-get download $kpkg failed"
  deb=$(ls "$CACHE/deb/${kpkg}_"*"_amd64.deb" | sort | tail -1)
fi

# 2. cache key: every input that changes the output
key=$( {
  sha256sum "$deb" | cut -d' ' -f1
  cat "$0" "$HERE/lib/initramfs.sh"
  # relative names: the key must not depend on where the repository is checked out
  (cd "$HERE" && find agent -type f | LC_ALL=C sort | xargs sha256sum)
  for t in /bin/busybox "${TOOLS[@]}" /etc/mke2fs.conf; do sha256sum "$t"; done
} | sha256sum | cut -c1-16)
IMG="$CACHE/image"
if ((FORCE == 0)) && [[ -f "$IMG/key" && "$(cat "$IMG/key")" == "$key" && -f "$IMG/initrd.img" && -f "$IMG/vmlinuz" ]]; then
  log "up to date ($IMG, key $key)"
else
  kroot="$CACHE/kernel"
  rm -rf "$kroot"; mkdir -p "$kroot"
  dpkg-deb -x "$deb" "$kroot"
  kver=$(ls "$kroot/lib/modules" | head -1)
  [[ -n "$kver" && -f "$kroot/boot/vmlinuz-$kver" ]] || die "unexpected layout in $deb"
  mroot="$kroot/lib/modules/$kver"
  : "${SOURCE_DATE_EPOCH:=$(stat -c %Y "$kroot/boot/vmlinuz-$kver")}"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  R="$work/root"
  mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,tmp,run,var/log,usr/bin,usr/sbin,usr/share/udhcpc,lib/modules/"$kver",agent}

  # busybox: /bin/sh must exist before `busybox --install` runs in /init
  cp /bin/busybox "$R/bin/busybox"
  ln -s busybox "$R/bin/sh"

  # modules in dependency order; tools with their shared libraries (images/lib/initramfs.sh)
  initramfs_modules "$R" "$kver" "$mroot" "${MODULES[@]}"
  initramfs_tools "$R" "${TOOLS[@]}"

  # the agent
  cp "$HERE/agent/init" "$R/init"
  for f in "$HERE"/agent/*.sh; do cp "$f" "$R/agent/"; done
  ln -s /agent/udhcpc.sh "$R/usr/share/udhcpc/default.script"
  chmod 0755 "$R/init" "$R"/agent/*.sh
  # No IANA PEN registry for ipmitool (4.7 MB): it prints "IANA PEN registry open failed" and
  # works. An empty file is worse: "Failed to initialize the OEM info dictionary", commands fail.
  cp /etc/mke2fs.conf "$R/etc/mke2fs.conf"   # ext4 defaults for the image install
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
  printf 'root:x:0:\n' > "$R/etc/group"
  echo "$kver" > "$R/etc/kernel-version"

  # reproducible archive
  find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  mkdir -p "$IMG"
  (cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -n -9) > "$IMG/initrd.img.tmp"
  cp "$kroot/boot/vmlinuz-$kver" "$IMG/vmlinuz.tmp"
  mv "$IMG/initrd.img.tmp" "$IMG/initrd.img"
  mv "$IMG/vmlinuz.tmp" "$IMG/vmlinuz"
  echo "$kver" > "$IMG/kernel-version"
  (cd "$IMG" && sha256sum vmlinuz initrd.img > SHA256SUMS)
  echo "$key" > "$IMG/key"
  rm -rf "$kroot"
  log "built $IMG: initrd $(du -h "$IMG/initrd.img" | cut -f1), kernel $kver"
fi

if [[ -n "$OUT" ]]; then
  mkdir -p "$OUT"
  for f in vmlinuz initrd.img SHA256SUMS kernel-version; do
    cp "$IMG/$f" "$OUT/.$f.tmp" && mv "$OUT/.$f.tmp" "$OUT/$f"
  done
  log "installed into $OUT"
fi
echo "$IMG"
