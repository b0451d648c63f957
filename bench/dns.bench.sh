#!/usr/bin/env bash
# DNS benchmark: dnsperf (client netns) against our DNS and dnsmasq (server
# netns), same query file (A + PTR over $NHOSTS nodes), interleaved in the
# same run. Prints per-run lines, then medians and the ratio ours/dnsmasq.
# dns2 (the design card's package) runs as a contender for the record, and
# knot when knotd is installed.
# Env: SERVERS="crowbar dnsmasq dns2" REPEATS=3 DURATION=10 NHOSTS=1000 DNSPERF_ARGS="-c 4 -q 200"
# Needs root (network namespaces). Only the two namespaces it creates carry traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/dnsntp-lib.sh
REPEATS=${REPEATS:-3}; DURATION=${DURATION:-10}; NHOSTS=${NHOSTS:-1000}
DNSPERF_ARGS=${DNSPERF_ARGS:-"-c 4 -q 200"}
DEFAULT_SERVERS="crowbar dnsmasq dns2"; command -v knotd >/dev/null && DEFAULT_SERVERS="$DEFAULT_SERVERS knot"
SERVERS=${SERVERS:-$DEFAULT_SERVERS}
need dnsperf; need dnsmasq
bench_net_up dns
W=$BENCH_WORK
DOMAIN=admin.lab
node --import tsx bench/dns-seed.ts "$W/data" "$W" "$NHOSTS" "$DOMAIN"
cat >"$W/config.json" <<CFG
{"data_dir": "$W/data", "log_level": "warn",
 "admin_network": {"interface": "$BENCH_SRV_IF", "address": "$BENCH_SRV_IP/16", "domain": "$DOMAIN",
                   "host_range_start": "10.88.1.1", "host_range_end": "10.88.200.250"},
 "services": {"dhcp": {"enabled": false, "range_start": "10.88.201.1", "range_end": "10.88.255.254"}, "tftp": {"enabled": false}, "ntp": {"enabled": false},
              "dns": {"bind": "$BENCH_SRV_IP", "port": 53, "rate_limit": 0},
              "http": {"bind": "127.0.0.1", "port": 28080}}}
CFG

cat >"$W/knot.conf" <<CFG
server:
    rundir: "$W"
    listen: $BENCH_SRV_IP@53
    pidfile: "$W/knot.pid"
database:
    storage: "$W/knotdb"
log:
  - target: stderr
    any: warning
zone:
  - domain: $DOMAIN
    file: "$W/$DOMAIN.zone"
    zonefile-sync: -1
    journal-content: none
  - domain: 88.10.in-addr.arpa
    file: "$W/88.10.in-addr.arpa.zone"
    zonefile-sync: -1
    journal-content: none
CFG

start() { # name -> SRV_PID
  case "$1" in
    crowbar) bench_start "$W/crowbar.log" node --import tsx src/cli.ts serve --config "$W/config.json";;
    knot)    bench_start "$W/knot.log" knotd -c "$W/knot.conf";;
    dns2)    bench_start "$W/dns2.log" node --import tsx bench/dns2-server.ts "$W/hosts" "$BENCH_SRV_IP" 53;;
    dnsmasq) bench_start "$W/dnsmasq.log" dnsmasq -k --no-resolv --no-hosts --addn-hosts="$W/hosts" \
               --local=/$DOMAIN/ --listen-address="$BENCH_SRV_IP" --bind-interfaces --user=root \
               --log-facility=- --pid-file="$W/dnsmasq.pid" --cache-size=10000;;
  esac
  SRV_PID=$BENCH_LAST_PID
  for _ in $(seq 1 100); do
    in_cli dig +time=1 +tries=1 @"$BENCH_SRV_IP" node0001.$DOMAIN A +short 2>/dev/null | grep -q 10.88.1.1 && return 0
    sleep 0.2
  done
  cat "$W/$1.log" >&2; die "$1 did not answer"
}

CSV=$W/dns.csv
echo "server,rep,qps,sent,completed,lost,noerror_pct,avg_lat_ms,cpu_pct,qps_per_cpu_s" >"$CSV"
for rep in $(seq 1 "$REPEATS"); do
  for s in $SERVERS; do
    start "$s"
    # 1 s warm-up for every server (lets V8 optimise ours; harmless for the others)
    in_cli dnsperf -s "$BENCH_SRV_IP" -d "$W/queries.txt" -l 1 -c 4 -q 200 >/dev/null 2>&1 || true
    c0=$(cpu_of "$SRV_PID")
    # shellcheck disable=SC2086
    timeout $((DURATION + 20)) ip netns exec "$BENCH_CLI" dnsperf -s "$BENCH_SRV_IP" -d "$W/queries.txt" -l "$DURATION" $DNSPERF_ARGS >"$W/dnsperf-$s-$rep.out" 2>&1 || true
    c1=$(cpu_of "$SRV_PID")
    bench_stop "$SRV_PID"
    python3 - "$W/dnsperf-$s-$rep.out" "$s" "$rep" "$DURATION" "$c0" "$c1" >>"$CSV" <<'PY'
import re, sys
t = open(sys.argv[1]).read(); s, rep, dur, c0, c1 = sys.argv[2:7]
g = lambda p, d="nan": (re.search(p, t).group(1) if re.search(p, t) else d)
sent = float(g(r"Queries sent:\s+(\d+)")); comp = float(g(r"Queries completed:\s+(\d+)"))
lost = float(g(r"Queries lost:\s+(\d+)")); qps = float(g(r"Queries per second:\s+([0-9.]+)"))
noerr = float(g(r"NOERROR (\d+)", "0")); lat = float(g(r"Average Latency \(s\):\s+([0-9.]+)")) * 1000
cpu = (float(c1) - float(c0)) / float(dur) * 100
print(f"{s},{rep},{qps:.0f},{sent:.0f},{comp:.0f},{lost:.0f},{100*noerr/comp if comp else 0:.1f},{lat:.3f},{cpu:.0f},{qps*100/cpu if cpu>0 else 0:.0f}")
PY
    log "rep $rep $s: $(tail -1 "$CSV")"
  done
done
echo "## DNS: dnsperf -l $DURATION $DNSPERF_ARGS, $NHOSTS A + $NHOSTS PTR, median (min-max) of $REPEATS"
summarize "$CSV" crowbar dnsmasq qps lost noerror_pct avg_lat_ms cpu_pct qps_per_cpu_s
for other in dns2 knot; do
  grep -q "^$other," "$CSV" && summarize "$CSV" crowbar "$other" qps lost noerror_pct avg_lat_ms cpu_pct qps_per_cpu_s
done
true
