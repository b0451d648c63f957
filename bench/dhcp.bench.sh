#!/usr/bin/env bash
# DHCPv4 DORA benchmark: Crowbar's DHCP server vs ISC Kea (kea-dhcp4, memfile,
# Debian defaults: persist=true, single-threaded) in the same run, same load:
# perfdhcp (kea-admin) in a client namespace, full DORA, random MACs out of
# 16M. perfdhcp acts as a relay (giaddr = its address), so replies go unicast
# to it on port 67. Each (repeat, rate, server) point starts a fresh server
# with an empty lease store; servers are interleaved so ratios are side by side.
#
# Topology (created here, removed on exit; no route out of the namespaces):
#   cbb<pid>s [cbbv<pid>s 10.77.0.1/16] <--veth--> [cbbv<pid>c 10.77.0.2/16] cbb<pid>c
#
# env: RATES="1000 2000 4000 8000"  DURATION=5  REPEATS=3  CLIENTS=16000000
#      WORK=/tmp/crowbar-dhcp-bench (ext4: real fsync; /dev/shm: fsync ~free)
# Output: a markdown table (median (min-max) over repeats) with DORA/s, drop %,
# server CPU %, and the crowbar/kea ratio per rate; raw CSV in $WORK/dhcp.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RATES=${RATES:-"1000 2000 4000 8000"}
DURATION=${DURATION:-5}
REPEATS=${REPEATS:-3}
CLIENTS=${CLIENTS:-16000000}
WORK=${WORK:-/tmp/crowbar-dhcp-bench}
ID=$$
SRV=cbb${ID}s CLI=cbb${ID}c V0=cbbv${ID}s V1=cbbv${ID}c
V0=${V0:0:15} V1=${V1:0:15}
SRV_IP=10.77.0.1 CLI_IP=10.77.0.2
PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for t in perfdhcp kea-dhcp4 python3; do command -v $t >/dev/null || die "$t missing (apt-get install kea-admin kea-dhcp4-server python3)"; done

stop_pid() { # TERM, wait, KILL: only this PID
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  ip netns del "$CLI" 2>/dev/null || true
  ip netns del "$SRV" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$SRV"; ip netns add "$CLI"
ip link add "$V0" netns "$SRV" type veth peer name "$V1" netns "$CLI"
for ns in "$SRV" "$CLI"; do
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.core.rmem_default=4194304 net.core.wmem_default=4194304 2>/dev/null || true
done
ip -n "$SRV" addr add $SRV_IP/16 dev "$V0"; ip -n "$SRV" link set "$V0" up
ip -n "$CLI" addr add $CLI_IP/16 dev "$V1"; ip -n "$CLI" link set "$V1" up
for i in $(seq 1 50); do ip netns exec "$CLI" ping -c1 -W1 $SRV_IP >/dev/null 2>&1 && break; sleep 0.1; done

cpu_of() { # CPU seconds used by PID and its children
  local t=0 p hz; hz=$(getconf CLK_TCK)
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    [ -r /proc/$p/stat ] && t=$(( t + $(sed 's/^.*) //' /proc/$p/stat | awk '{print $12+$13}') ))
  done
  awk -v t="$t" -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}'
}
wait_udp67() {
  local i; for i in $(seq 1 300); do
    ip netns exec "$SRV" ss -H -lun 'sport = :67' | grep -q . && return 0; sleep 0.1
  done; return 1
}

start_server() { # name dir -> SRV_PID
  local s=$1 d=$2
  case $s in
    kea)
      cat >"$d/kea.json" <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["$V0"]},
  "lease-database": {"type": "memfile", "persist": true, "name": "$d/kea-leases4.csv", "lfc-interval": 0},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "10.77.0.0/16", "pools": [{"pool": "10.77.1.0 - 10.77.255.254"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "WARN"}]
}}
JSON
      KEA_PIDFILE_DIR=$d KEA_LOCKFILE_DIR=$d ip netns exec "$SRV" kea-dhcp4 -c "$d/kea.json" >"$d/server.log" 2>&1 &
      ;;
    crowbar)
      cat >"$d/crowbar.json" <<JSON
{"data_dir": "$d/data", "log_level": "warn",
 "admin_network": {"interface": "$V0", "address": "$SRV_IP/16", "domain": "bench.test",
                   "host_range_start": "10.77.0.10", "host_range_end": "10.77.0.250"},
 "services": {"dhcp": {"enabled": true, "range_start": "10.77.1.0", "range_end": "10.77.255.254", "lease_seconds": 3600},
              "tftp": {"enabled": false}, "dns": {"enabled": false}, "ntp": {"enabled": false},
              "http": {"bind": "127.0.0.1", "port": 18099}}}
JSON
      ip netns exec "$SRV" node --import tsx "$ROOT/src/cli.ts" serve --config "$d/crowbar.json" >"$d/server.log" 2>&1 &
      ;;
  esac
  SRV_PID=$!; PIDS+=("$SRV_PID")
  wait_udp67 || { cat "$d/server.log" >&2; die "$s did not open udp/67"; }
  sleep 0.5
}

rm -rf "$WORK"; mkdir -p "$WORK"
CSV=$WORK/dhcp.csv
echo "server,rate,repeat,dora_per_s,drop_pct,cpu_pct,sent,acks" >"$CSV"
log "perfdhcp $(perfdhcp -v 2>&1 | head -1); kea $(kea-dhcp4 -v); node $(node -v); rates: $RATES; ${DURATION}s x $REPEATS"
for rep in $(seq 1 "$REPEATS"); do
  for rate in $RATES; do
    for s in crowbar kea; do
      d=$WORK/$s-$rate-$rep; mkdir -p "$d"
      start_server $s "$d"
      c0=$(cpu_of "$SRV_PID")
      timeout $((DURATION + 30)) ip netns exec "$CLI" perfdhcp -4 -l "$V1" -r "$rate" -p "$DURATION" -d 1 -R "$CLIENTS" $SRV_IP >"$d/perfdhcp.out" 2>&1 || true
      c1=$(cpu_of "$SRV_PID")
      stop_pid "$SRV_PID"; PIDS=("${PIDS[@]/$SRV_PID}")
      python3 - "$d/perfdhcp.out" $s "$rate" "$rep" "$DURATION" "$c0" "$c1" >>"$CSV" <<'PY'
import re, sys
txt = open(sys.argv[1]).read()
s, rate, rep, dur, c0, c1 = sys.argv[2:8]
dur = float(dur)
def sect(name):
    m = re.search(r"Statistics for: " + name + r"\*+\n(.*?)(?:\n\n\*\*\*|\Z)", txt, re.S)
    return m.group(1) if m else ""
def val(sec, key):
    m = re.search(key + r":\s*([0-9.]+)", sec)
    return float(m.group(1)) if m else 0.0
sent = val(sect("DISCOVER-OFFER"), "sent packets")
acks = val(sect("REQUEST-ACK"), "received packets")
drop = 100.0 * (1 - acks / sent) if sent > 0 else 100.0
print(f"{s},{rate},{rep},{acks/dur:.1f},{drop:.2f},{100*(float(c1)-float(c0))/dur:.1f},{sent:.0f},{acks:.0f}")
PY
      log "rep $rep rate $rate: $(tail -1 "$CSV")"
    done
  done
done

python3 - "$CSV" <<'PY'
import csv, sys, statistics as st
rows = list(csv.DictReader(open(sys.argv[1])))
def agg(s, rate, k):
    v = [float(r[k]) for r in rows if r["server"] == s and r["rate"] == rate]
    return v
def fmt(v):
    return f"{st.median(v):.0f} ({min(v):.0f}-{max(v):.0f})" if v else "n/a"
def fmt2(v):
    return f"{st.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" if v else "n/a"
rates = sorted({r["rate"] for r in rows}, key=int)
print()
print(f"## DHCPv4 DORA/s, perfdhcp -r RATE, median (min-max) of {len({r['repeat'] for r in rows})} repeats ({sys.argv[1]})")
print("| rate | crowbar DORA/s | crowbar drop % | crowbar CPU % | kea DORA/s | kea drop % | kea CPU % | crowbar/kea |")
print("|---|---|---|---|---|---|---|---|")
for rate in rates:
    c, k = agg("crowbar", rate, "dora_per_s"), agg("kea", rate, "dora_per_s")
    ratios = [a / b for a, b in zip(c, k) if b > 0]
    print(f"| {rate} | {fmt(c)} | {fmt2(agg('crowbar', rate, 'drop_pct'))} | {fmt(agg('crowbar', rate, 'cpu_pct'))} | {fmt(k)} | "
          f"{fmt2(agg('kea', rate, 'drop_pct'))} | {fmt(agg('kea', rate, 'cpu_pct'))} | {fmt2(ratios)} |")
PY
