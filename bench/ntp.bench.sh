#!/usr/bin/env bash
# NTP benchmark: our NTP server and chronyd (local stratum 10, -x: never
# touches the host clock) side by side in the same run, in a server netns;
# clients in a client netns. Per run: ntpdig x$NDIG (offset), then
# bench/ntp-load.py (window $WINDOW, $DURATION s) -> replies/s, loss, latency,
# server CPU. Prints medians and the ratio ours/chrony.
# Env: REPEATS=3 DURATION=10 WINDOW=64 NDIG=5. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/dnsntp-lib.sh
REPEATS=${REPEATS:-3}; DURATION=${DURATION:-10}; WINDOW=${WINDOW:-64}; NDIG=${NDIG:-5}
need chronyd; need ntpdig; need python3
bench_net_up ntp
W=$BENCH_WORK
cat >"$W/config.json" <<CFG
{"data_dir": "$W/data", "log_level": "warn",
 "admin_network": {"interface": "$BENCH_SRV_IF", "address": "$BENCH_SRV_IP/16", "domain": "bench.test",
                   "host_range_start": "10.88.1.1", "host_range_end": "10.88.200.250"},
 "services": {"dhcp": {"enabled": false, "range_start": "10.88.201.1", "range_end": "10.88.255.254"},
              "tftp": {"enabled": false}, "dns": {"enabled": false},
              "ntp": {"bind": "$BENCH_SRV_IP", "port": 123, "rate_limit": 0, "local_reference": true},
              "http": {"bind": "127.0.0.1", "port": 28081}}}
CFG
cat >"$W/chrony.conf" <<CFG
allow 10.88.0.0/16
local stratum 10
bindaddress $BENCH_SRV_IP
cmdport 0
pidfile $W/chronyd.pid
driftfile $W/chrony.drift
CFG

start() {
  case "$1" in
    crowbar) bench_start "$W/crowbar.log" node --import tsx src/cli.ts serve --config "$W/config.json";;
    chrony) bench_start "$W/chrony.log" chronyd -d -x -u root -f "$W/chrony.conf";;
  esac
  SRV_PID=$BENCH_LAST_PID
  for _ in $(seq 1 60); do in_cli timeout 3 ntpdig -t 1 "$BENCH_SRV_IP" >/dev/null 2>&1 && return 0; sleep 0.3; done
  cat "$W/$1.log" >&2; die "$1 did not answer"
}

CSV=$W/ntp.csv
echo "server,rep,ntpdig_ok,abs_offset_us,replies_per_s,loss_pct,p50_ms,p99_ms,cpu_pct,replies_per_cpu_s" >"$CSV"
for rep in $(seq 1 "$REPEATS"); do
  for s in crowbar chrony; do
    start "$s"
    : >"$W/dig.out"
    for _ in $(seq 1 "$NDIG"); do in_cli timeout 5 ntpdig -j -t 2 "$BENCH_SRV_IP" >>"$W/dig.out" 2>/dev/null || true; echo >>"$W/dig.out"; done
    in_cli timeout 5 python3 bench/ntp-load.py "$BENCH_SRV_IP" 123 1 "$WINDOW" >/dev/null 2>&1 || true  # 1 s warm-up
    c0=$(cpu_of "$SRV_PID")
    in_cli timeout $((DURATION + 10)) python3 bench/ntp-load.py "$BENCH_SRV_IP" 123 "$DURATION" "$WINDOW" >"$W/load.json" || true
    c1=$(cpu_of "$SRV_PID")
    bench_stop "$SRV_PID"
    python3 - "$W" "$s" "$rep" "$DURATION" "$c0" "$c1" >>"$CSV" <<'PY'
import json, statistics, sys
w, s, rep, dur, c0, c1 = sys.argv[1:7]
offs = []
for line in open(f"{w}/dig.out"):
    line = line.strip()
    if line:
        try: offs.append(abs(float(json.loads(line)["offset"])) * 1e6)
        except Exception: pass
try: l = json.loads(open(f"{w}/load.json").read())
except Exception: l = {"replies_per_s": float("nan"), "loss_pct": float("nan"), "lat_p50_ms": float("nan"), "lat_p99_ms": float("nan")}
cpu = (float(c1) - float(c0)) / float(dur) * 100
rps = l["replies_per_s"]
print(f"{s},{rep},{len(offs)},{statistics.median(offs) if offs else float('nan'):.1f},{rps:.0f},{l['loss_pct']},{l['lat_p50_ms']},{l['lat_p99_ms']},{cpu:.0f},{rps*100/cpu if cpu > 0 else 0:.0f}")
PY
    log "rep $rep $s: $(tail -1 "$CSV")"
  done
done
echo "## NTP: ntpdig x$NDIG + ntp-load.py window $WINDOW for ${DURATION}s, median (min-max) of $REPEATS"
summarize "$CSV" crowbar chrony ntpdig_ok abs_offset_us replies_per_s loss_pct p50_ms p99_ms cpu_pct replies_per_cpu_s
