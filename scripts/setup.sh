#!/usr/bin/env bash
# Install what Crowbar needs on this machine: npm packages, and (when root)
# the Debian packages for the boot loaders, the lab and the test peers.
# Idempotent and quick when everything is present. Set CROWBAR_SETUP_SKIP_APT=1
# to skip apt.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(
  # boot loaders served to PXE clients
  ipxe
  # lab: virtual machines, firmware, BMC simulator
  qemu-system-x86 qemu-utils ipxe-qemu ovmf openipmi ipmitool socat
  # lab: IPv6 router advertisements on the lab bridge (iPXE waits ~13 s without them)
  radvd
  # discovery image build
  busybox-static cpio kmod xz-utils dmidecode mdadm gdisk parted efibootmgr
  # root image build (image-based install, docs/image-install.md); e2fsprogs' mke2fs goes into the discovery image
  debootstrap e2fsprogs zstd
  # admin-node ISO build (images/build-iso.sh, docs/iso.md)
  mmdebstrap xorriso squashfs-tools mtools dosfstools grub-pc-bin grub-efi-amd64-bin grub-common fdisk e2fsprogs zstd
  # network plumbing and packet filters for the tests
  iproute2 nftables procps tcpdump
  # real protocol peers for the tests
  isc-dhcp-client udhcpc tftp-hpa atftp curl bind9-dnsutils ntpsec-ntpdig chrony
  # reference servers for the benchmark
  kea-dhcp4-server kea-admin dnsmasq-base tftpd-hpa dnsperf nginx-light knot
  # OS install: ISO import (xorriso), install-config checkers (debconf is in every Debian;
  # cloud-init for `cloud-init schema`), a real Debian 12 installer kernel+initrd for the import test
  xorriso cloud-init debian-installer-12-netboot-amd64
  # systemd-analyze for the unit-file test
  systemd
  # compiler for the native addons, TFTP datagrams and HTTP sendfile (scripts/build-native.sh; headers come with nodejs)
  gcc libc6-dev
  # browser for the console tests
  chromium
)

if [[ "${CROWBAR_SETUP_SKIP_APT:-0}" != 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: apt-get install ${missing[*]}" >&2
    # Never let package installs start daemons on this host (tftpd-hpa, kea, nginx, chrony...).
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [[ -L node_modules ]]; then
  # A shared node_modules (a symlink, e.g. in a git worktree): `npm ci` here would empty the
  # shared directory for everyone; install from the tree that owns it instead.
  [[ -d node_modules/better-sqlite3/build ]] || echo "setup: node_modules is a symlink to $(readlink node_modules) and incomplete; run npm ci there" >&2
elif [[ ! -d node_modules/better-sqlite3/build ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# The native addons: the TFTP transfer path's datagram addon (build/native/tftp_udp.node) and
# HTTP sendfile (build/native/http_sendfile.node); without a compiler they are skipped, TFTP
# uses node:dgram and HTTP file bodies are streamed.
bash scripts/build-native.sh

# The discovery image (kernel from Debian's linux-image-amd64 + our initramfs),
# cached under /var/cache/crowbar/discovery; quick when up to date.
if [[ "${CROWBAR_SETUP_SKIP_IMAGE:-0}" != 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  bash images/build-discovery.sh >/dev/null
fi
# The Debian 12 root image for image-based installs (debootstrap, several minutes the first
# time), cached under /var/cache/crowbar/root-image; quick when up to date.
if [[ "${CROWBAR_SETUP_SKIP_ROOT_IMAGE:-0}" != 1 && "${CROWBAR_SETUP_SKIP_IMAGE:-0}" != 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  bash images/build-root-image.sh >/dev/null
fi
