#!/usr/bin/env bash
# Build the Debian 12 root image written by the discovery agent's image install
# (docs/image-install.md): debootstrap (minbase) with the kernel, GRUB for BIOS
# (i386-pc) and UEFI (x86_64-efi), systemd + systemd-networkd, curl, and our join
# agent (images/join/), packed as a zstd-compressed tarball the agent streams to disk
# (zstd: the agent unpacks it about 5x faster than gzip, which bounds the image write on
# slow or emulated machines; 17 % smaller too).
#
# Usage: images/build-root-image.sh [--cache DIR] [--out DIR] [--force]
#   --cache DIR  build cache (default /var/cache/crowbar/root-image): the debootstrap'd
#                base (keyed by suite, package list and mirror) and the packed image
#                (keyed by the base key, this script and images/join/*)
#   --out DIR    also install the image into DIR (e.g. <data_dir>/images/debian-12-amd64-image)
#   --force      rebuild both stages even when the cache is up to date
# Prints the directory holding root.tar.zst, crowbar-os.json and SHA256SUMS.
#
# The mirror comes from this machine's apt configuration (/etc/apt/sources.list and
# /etc/apt/sources.list.d/*.sources or *.list): the first URI serving the suite.
# Reproducible packing: entries sorted by name, owners numeric, mtimes clamped to
# SOURCE_DATE_EPOCH (default: the newest dpkg status change of the base), zstd (its output
# does not depend on the thread count);
# logs, apt lists/caches and /etc/machine-id (regenerated at first boot) removed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=/var/cache/crowbar/root-image
OUT=""
FORCE=0
SUITE=bookworm
NAME=debian-12-amd64-image
PKGS=(linux-image-amd64 initramfs-tools grub-pc-bin grub-efi-amd64-bin grub2-common
      systemd systemd-sysv udev kmod dbus curl ca-certificates iproute2 e2fsprogs dosfstools
      procps less jq mdadm)
while (($#)); do
  case "$1" in
    --cache) CACHE=$2; shift ;;
    --out) OUT=$2; shift ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-root-image: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
log() { printf '[build-root-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for c in debootstrap tar zstd sha256sum chroot; do command -v "$c" >/dev/null || die "$c missing (run scripts/setup.sh as root)"; done
(( $(id -u) == 0 )) || die "run as root (debootstrap)"

# The mirror of $SUITE from the apt configuration (deb822 .sources or one-line .list).
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '
      /^[ \t]*$/ { if (uri != "" && ok && deb) { print uri; exit } uri=""; ok=0; deb=0; next }
      /^URIs:/ { uri=$2 }
      /^Types:/ { for (i=2;i<=NF;i++) if ($i=="deb") deb=1 }
      /^Suites:/ { for (i=2;i<=NF;i++) if ($i==suite) ok=1 }
      END { if (uri != "" && ok && deb) print uri }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v suite="$SUITE" '$1=="deb" { u=$2; s=$3; if ($2 ~ /^\[/) { u=$3; s=$4 } if (s==suite) print u }' || true
}
MIRROR=$(mirror | head -1 || true)
[[ -n "$MIRROR" ]] || die "no apt source for $SUITE in /etc/apt/sources.list*"

mkdir -p "$CACHE"
# Stage 1: the debootstrap'd base, keyed by what debootstrap gets.
bkey=$(printf '%s\n' "$SUITE" "$MIRROR" "${PKGS[@]}" "$(sed -n '/^# --- base ---/,/^# --- end base ---/p' "$0")" | sha256sum | cut -c1-16)
BASE="$CACHE/base"
# --- base ---
if ((FORCE == 1)) || [[ ! -f "$BASE.key" || "$(cat "$BASE.key")" != "$bkey" ]]; then
  log "debootstrap $SUITE from $MIRROR (minbase + ${#PKGS[@]} packages); several minutes"
  rm -rf "$BASE" "$BASE.key"
  t0=$(date +%s)
  incl=$(IFS=,; echo "${PKGS[*]}")
  debootstrap --variant=minbase --include="$incl" --components=main "$SUITE" "$BASE" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  # Leave the image clean: no apt lists, caches or logs, no machine id (systemd makes one at first boot).
  rm -rf "$BASE"/var/lib/apt/lists/* "$BASE"/var/cache/apt/*.bin "$BASE"/var/cache/apt/archives/*.deb "$BASE"/var/log/*.log "$BASE"/var/log/apt/* "$BASE"/tmp/* 2>/dev/null || true
  : > "$BASE/etc/machine-id"
  rm -f "$BASE/var/lib/dbus/machine-id"
  log "base built in $(( $(date +%s) - t0 )) s: $(du -sh "$BASE" | cut -f1)"
  echo "$bkey" > "$BASE.key"
fi
# --- end base ---

# Stage 2: the packed image, keyed by the base and our files.
key=$( {
  cat "$BASE.key"; cat "$0"
  find "$HERE/join" -type f | LC_ALL=C sort | xargs sha256sum | sed "s#$HERE/##"
} | sha256sum | cut -c1-16)
IMG="$CACHE/image"
if ((FORCE == 0)) && [[ -f "$IMG/key" && "$(cat "$IMG/key")" == "$key" && -f "$IMG/root.tar.zst" ]]; then
  log "up to date ($IMG, key $key)"
else
  t0=$(date +%s)
  work=$(mktemp -d "$CACHE/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # Our additions live in an overlay directory packed after the base (tar keeps the last entry).
  O="$work/overlay"
  install -D -m 0755 "$HERE/join/crowbar-join" "$O/usr/lib/crowbar/crowbar-join"
  install -D -m 0644 "$HERE/join/crowbar-join.service" "$O/etc/systemd/system/crowbar-join.service"
  mkdir -p "$O/etc/systemd/system/multi-user.target.wants" "$O/etc/crowbar" "$O/etc/default/grub.d"
  ln -s ../crowbar-join.service "$O/etc/systemd/system/multi-user.target.wants/crowbar-join.service"
  ln -s /lib/systemd/system/systemd-networkd.service "$O/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  printf 'GRUB_TIMEOUT=1\nGRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200"\n' > "$O/etc/default/grub.d/crowbar.cfg"
  chmod 0700 "$O/etc/crowbar"
  for f in "$HERE"/join/*.sh; do [[ -f "$f" ]] && install -D -m 0755 "$f" "$O/usr/lib/crowbar/${f##*/}"; done
  : "${SOURCE_DATE_EPOCH:=$(stat -c %Y "$BASE/var/lib/dpkg/status")}"
  export SOURCE_DATE_EPOCH
  mkdir -p "$IMG"
  tarflags=(--sort=name --numeric-owner --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime --format=gnu)
  # base without the API filesystems' contents, then the overlay (owner root:root)
  # the base without the API filesystems' contents, then the overlay appended (tar -r): one
  # archive, the overlay's entries last, so they win when extracted
  # Left out to keep the image small (servers on the admin network need none of it): sound, video,
  # GPU, wireless, InfiniBand and staging drivers (modules.dep still names them; modprobe of one
  # fails, as on hardware without it), documentation, man pages and translations.
  prune=()
  for m in sound drivers/media drivers/gpu drivers/net/wireless drivers/infiniband drivers/staging drivers/iio \
           drivers/bluetooth drivers/isdn net/wireless net/mac80211 net/bluetooth; do
    prune+=("--exclude=./usr/lib/modules/*/kernel/$m")
  done
  for d in usr/share/doc usr/share/man usr/share/info usr/share/locale; do prune+=("--exclude=./$d/*"); done
  tar -C "$BASE" "${tarflags[@]}" --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* --exclude=./run/* "${prune[@]}" -cf "$work/root.tar" .
  (cd "$O" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) > "$work/top"
  tar -C "$O" "${tarflags[@]}" -rf "$work/root.tar" -T "$work/top"
  zstd -q -10 -T0 --no-progress < "$work/root.tar" > "$IMG/root.tar.zst.tmp"
  sha=$(sha256sum "$IMG/root.tar.zst.tmp" | cut -d' ' -f1)
  size=$(stat -c %s "$IMG/root.tar.zst.tmp")
  kver=$(ls "$BASE/lib/modules" | head -1)
  cat > "$IMG/crowbar-os.json.tmp" <<JSON
{"name":"$NAME","family":"debian","version":"12","arch":"amd64","method":"image","image":"root.tar.zst","sha256":"$sha","format":"tar.zst","size":$size,"kernel_version":"$kver","suite":"$SUITE","key":"$key","source_date_epoch":$SOURCE_DATE_EPOCH}
JSON
  mv "$IMG/root.tar.zst.tmp" "$IMG/root.tar.zst"
  rm -f "$IMG/root.tar.gz"
  mv "$IMG/crowbar-os.json.tmp" "$IMG/crowbar-os.json"
  (cd "$IMG" && echo "$sha  root.tar.zst" > SHA256SUMS)
  echo "$key" > "$IMG/key"
  log "packed $IMG/root.tar.zst in $(( $(date +%s) - t0 )) s: $(du -h "$IMG/root.tar.zst" | cut -f1), sha256 $sha"
fi

if [[ -n "$OUT" ]]; then
  mkdir -p "$OUT"
  rm -f "$OUT/root.tar.gz"
  for f in root.tar.zst crowbar-os.json SHA256SUMS; do
    cmp -s "$IMG/$f" "$OUT/$f" 2>/dev/null || { cp "$IMG/$f" "$OUT/.$f.tmp" && mv "$OUT/.$f.tmp" "$OUT/$f"; }
  done
  log "installed into $OUT"
fi
echo "$IMG"
