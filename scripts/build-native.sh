#!/usr/bin/env bash
# Build the native addons (no node-gyp, no downloads):
#   src/protocols/tftp/native/udp.c -> build/native/tftp_udp.node   (TFTP datagram path)
#   src/http/native/sendfile.c      -> build/native/http_sendfile.node (HTTP file bodies)
# Needs gcc, libc6-dev and the Node headers in /usr/include/node (Debian's
# nodejs package). Each addon is skipped when it is newer than its source and
# this script (--force rebuilds both). Without a compiler it says so and exits
# 0: the appliance then falls back (services.tftp.datagram: auto uses
# node:dgram, services.http.sendfile: auto streams with positional reads).
set -euo pipefail
cd "$(dirname "$0")/.."
inc=${NODE_INCLUDE:-/usr/include/node}
force=${1:-}
build() { # source output fallback-description
  local src=$1 out=$2
  if [[ -f $out && $out -nt $src && $out -nt "$0" && "$force" != --force ]]; then return 0; fi
  if ! command -v gcc >/dev/null || [[ ! -f $inc/node_api.h ]]; then
    echo "build-native: gcc or $inc/node_api.h missing; $3" >&2
    return 0
  fi
  mkdir -p "$(dirname "$out")"
  local tmp=$out.tmp.$$
  gcc -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -shared -fPIC -fvisibility=hidden -I"$inc" -o "$tmp" "$src"
  mv -f "$tmp" "$out"
  echo "build-native: built $out" >&2
}
build src/protocols/tftp/native/udp.c build/native/tftp_udp.node "TFTP transfers will use node:dgram"
build src/http/native/sendfile.c build/native/http_sendfile.node "HTTP file bodies will be streamed (no sendfile)"
