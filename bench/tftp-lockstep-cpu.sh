#!/usr/bin/env bash
# Server CPU per lock-step block: bench/tftp-lockstep-server.ts on loopback
# (server on CPU0, tftp-hpa client on CPU1), one warm-up transfer, then a
# TFTP_MB file at 512-byte blocks; utime + stime of the whole server process
# (every thread) from /proc/PID/stat, divided by the block count. Datagram
# paths (services.tftp.datagram) are interleaved ROUNDS times. The path
# "tftpd-hpa" runs in.tftpd -L instead (the reference). It forks a child per
# transfer and does not wait for it (no cutime), so the server runs in its own
# cgroup-v1 cpuacct group when one can be made (root): CPU = cpuacct.usage of
# the server and every child and thread. Without it, /proc/PID/stat (utime +
# stime; tftpd-hpa then reads 0).
# env: ROUNDS=3 TFTP_MB=16 PATHS="native dgram tftpd-hpa" WORKERS=0 PORT=6969
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; TFTP_MB=${TFTP_MB:-16}; PATHS=${PATHS:-"native dgram tftpd-hpa"}; WORKERS=${WORKERS:-0}; PORT=${PORT:-6969}
dir=$(mktemp -d /tmp/crowbar-lockstep.XXXXXX)
srv=''
cg=/sys/fs/cgroup/cpuacct/crowbar-lockstep-$$
mkdir "$cg" 2>/dev/null || cg=''
cleanup() { [[ -n $srv ]] && kill "$srv" 2>/dev/null; rm -rf "$dir"; [[ -n $cg ]] && { sleep 0.2; rmdir "$cg" 2>/dev/null; }; true; }
trap cleanup EXIT
head -c $((TFTP_MB * 1024 * 1024)) /dev/urandom >"$dir/f.bin"
chmod 755 "$dir"; chmod 644 "$dir/f.bin"
blocks=$((TFTP_MB * 1024 * 1024 / 512 + 1))
hz=$(getconf CLK_TCK)
# CPU seconds of the server (and its children when in the cgroup).
cpu() { if [[ -n $cg ]]; then awk '{printf "%.6f", $1 / 1e9}' "$cg/cpuacct.usage"; else awk -v hz="$hz" '{printf "%.6f", ($14 + $15) / hz}' "/proc/$1/stat"; fi; }
echo "path,round,us_per_block,seconds,load1"
for r in $(seq 1 "$ROUNDS"); do
  for p in $PATHS; do
    if [[ $p == tftpd-hpa ]]; then
      taskset -c 0 in.tftpd -L -a "127.0.0.1:$PORT" -s "$dir" >"$dir/srv.out" 2>"$dir/srv.err" &
      srv=$!
      [[ -n $cg ]] && echo "$srv" >"$cg/cgroup.procs"
      sleep 0.3
    else
      taskset -c 0 node --import tsx bench/tftp-lockstep-server.ts "$dir" "$PORT" 127.0.0.1 "$WORKERS" "$p" >"$dir/srv.out" 2>"$dir/srv.err" &
      srv=$!
      [[ -n $cg ]] && echo "$srv" >"$cg/cgroup.procs"
      for _ in $(seq 1 100); do grep -q listening "$dir/srv.out" 2>/dev/null && break; sleep 0.1; done
      grep -q "datagram path\|node:dgram" "$dir/srv.err" || { cat "$dir/srv.err" >&2; exit 1; }
    fi
    taskset -c 1 tftp -m binary 127.0.0.1 "$PORT" -c get f.bin "$dir/out" >/dev/null
    c0=$(cpu "$srv"); t0=$(date +%s.%N)
    taskset -c 1 tftp -m binary 127.0.0.1 "$PORT" -c get f.bin "$dir/out" >/dev/null
    t1=$(date +%s.%N)
    [[ $p == tftpd-hpa ]] && sleep 0.3 # its transfer child may still be exiting
    c1=$(cpu "$srv")
    cmp -s "$dir/out" "$dir/f.bin" || { echo "$p: output differs" >&2; exit 1; }
    kill "$srv"; wait "$srv" 2>/dev/null || true; srv=''
    awk -v p="$p" -v r="$r" -v c0="$c0" -v c1="$c1" -v hz="$hz" -v b="$blocks" -v t0="$t0" -v t1="$t1" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
      'BEGIN{printf "%s,%d,%.1f,%.2f,%s\n", p, r, (c1-c0)/b*1e6, t1-t0, l}'
  done
done
