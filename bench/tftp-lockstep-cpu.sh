#!/usr/bin/env bash
# Server CPU per lock-step block: bench/tftp-lockstep-server.ts on loopback
# (server on CPU0, tftp-hpa client on CPU1), one warm-up transfer, then a
# TFTP_MB file at 512-byte blocks; utime + stime of the whole server process
# (every thread) from /proc/PID/stat, divided by the block count. Datagram
# paths (services.tftp.datagram) are interleaved ROUNDS times.
# env: ROUNDS=3 TFTP_MB=16 PATHS="native dgram" WORKERS=0 PORT=6969
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; TFTP_MB=${TFTP_MB:-16}; PATHS=${PATHS:-"native dgram"}; WORKERS=${WORKERS:-0}; PORT=${PORT:-6969}
dir=$(mktemp -d /tmp/crowbar-lockstep.XXXXXX)
srv=''
cleanup() { [[ -n $srv ]] && kill "$srv" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
head -c $((TFTP_MB * 1024 * 1024)) /dev/urandom >"$dir/f.bin"
blocks=$((TFTP_MB * 1024 * 1024 / 512 + 1))
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "path,round,us_per_block,seconds,load1"
for r in $(seq 1 "$ROUNDS"); do
  for p in $PATHS; do
    taskset -c 0 node --import tsx bench/tftp-lockstep-server.ts "$dir" "$PORT" 127.0.0.1 "$WORKERS" "$p" >"$dir/srv.out" 2>"$dir/srv.err" &
    srv=$!
    for _ in $(seq 1 100); do grep -q listening "$dir/srv.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "datagram path\|node:dgram" "$dir/srv.err" || { cat "$dir/srv.err" >&2; exit 1; }
    taskset -c 1 tftp -m binary 127.0.0.1 "$PORT" -c get f.bin "$dir/out" >/dev/null
    c0=$(cpu "$srv"); t0=$(date +%s.%N)
    taskset -c 1 tftp -m binary 127.0.0.1 "$PORT" -c get f.bin "$dir/out" >/dev/null
    t1=$(date +%s.%N); c1=$(cpu "$srv")
    cmp -s "$dir/out" "$dir/f.bin" || { echo "$p: output differs" >&2; exit 1; }
    kill "$srv"; wait "$srv" 2>/dev/null || true; srv=''
    awk -v p="$p" -v r="$r" -v c0="$c0" -v c1="$c1" -v hz="$hz" -v b="$blocks" -v t0="$t0" -v t1="$t1" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
      'BEGIN{printf "%s,%d,%.1f,%.2f,%s\n", p, r, (c1-c0)/hz/b*1e6, t1-t0, l}'
  done
done
