#!/usr/bin/env bash
# Build the native datagram addon of the TFTP transfer path
# (src/protocols/tftp/native/udp.c -> build/native/tftp_udp.node).
# Needs gcc, libc6-dev and the Node headers in /usr/include/node (Debian's
# nodejs package); no node-gyp, no downloads. Skips the build when the addon
# is newer than its source. Without a compiler it says so and exits 0: the
# appliance then uses node:dgram (services.tftp.datagram: auto).
set -euo pipefail
cd "$(dirname "$0")/.."
src=src/protocols/tftp/native/udp.c
out=build/native/tftp_udp.node
inc=${NODE_INCLUDE:-/usr/include/node}
if [[ -f $out && $out -nt $src && $out -nt "$0" && "${1:-}" != --force ]]; then exit 0; fi
if ! command -v gcc >/dev/null || [[ ! -f $inc/node_api.h ]]; then
  echo "build-native: gcc or $inc/node_api.h missing; TFTP transfers will use node:dgram" >&2
  exit 0
fi
mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
gcc -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -shared -fPIC -fvisibility=hidden -I"$inc" -o "$tmp" "$src"
mv -f "$tmp" "$out"
echo "build-native: built $out" >&2
