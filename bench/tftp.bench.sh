#!/usr/bin/env bash
# Boot file serving benchmark: Crowbar's TFTP server vs tftpd-hpa, dnsmasq and
# atftpd, and Crowbar's GET /boot/files/ vs nginx, side by side in one run.
#
# Topology: two network namespaces made here (unique names), joined by one
# veth pair on 10.213.<x>.0/24, no route anywhere else. Servers run in the
# server namespace, clients in the client namespace. Every process is started
# and stopped by PID; the namespaces are deleted on exit.
#
# TFTP rows (same file, same clients for every server):
#   hpa512      tftp-hpa client, 512-byte blocks (it cannot negotiate blksize)
#   curl1468    curl --tftp-blksize 1468
#   atftp1468w16 atftp --option "blksize 1468" --option "windowsize 16" (RFC 7440)
#   conc20      20 concurrent curl --tftp-blksize 1468 (aggregate MB/s until all finish)
# HTTP rows: curl x1 and x10 parallel on a 300 MiB file, crowbar (sendfile), crowbar-stream
#   (services.http.sendfile: off) and nginx (sendfile),
#   once per CPU placement in HTTP_PINS (default "none split").
#
# env: REPEATS=3  TFTP_MB=16  HTTP_MB=300  NCONC=20  NPAR=10  PIN=split|none|same
#      HTTP_PINS="none split"  HTTP_SERVERS="crowbar crowbar-stream nginx"  PARTS="tftp http"  SERVERS="crowbar crowbar-dgram tftpd-hpa dnsmasq atftpd"  WORK=/tmp/crowbar-bench-tftp
#      TFTP_WORKERS=-1 (services.tftp.workers for "crowbar"); a server named crowbar-wN runs
#      crowbar with N transfer workers (crowbar-w0: all transfers on the main thread, as before).
#      TFTP_DATAGRAM=native (services.tftp.datagram for "crowbar"); a suffix -dgram or -native
#      picks the transfer datagram path: crowbar-dgram (node:dgram), crowbar-w0-native, ...
#      (native fails to start when the addon is not built: npm run build:native).
# PIN=split (default): servers on CPU0, clients on CPU1. Lock-step TFTP is bound
# by the wake-up round trip, which on a 2-vCPU VM depends on CPU placement.
# MB/s = 10^6 bytes/s from the clients' wall time; every output's size is checked
# (and its sha256 once per server).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
REPEATS=${REPEATS:-3}
TFTP_MB=${TFTP_MB:-16}
HTTP_MB=${HTTP_MB:-300}
NCONC=${NCONC:-20}
NPAR=${NPAR:-10}
PIN=${PIN:-split}
PARTS=${PARTS:-"tftp http"}
SERVERS=${SERVERS:-"crowbar crowbar-dgram tftpd-hpa dnsmasq atftpd"}
WORK=${WORK:-/tmp/crowbar-bench-tftp}
XFER_TIMEOUT=${XFER_TIMEOUT:-300}
ID=$(printf '%04x' $(( $$ % 65536 )))
NS_S=cbb${ID}s; NS_C=cbb${ID}c; IF_S=cbb${ID}s; IF_C=cbb${ID}c
SUB=10.213.$(( $$ % 250 ))
SRV_IP=$SUB.1; CLI_IP=$SUB.2
HTTP_PINS=${HTTP_PINS:-"none split"}
HTTP_SERVERS=${HTTP_SERVERS:-"crowbar crowbar-stream nginx"}
set_pin() {
  case "$1" in
    none)  SRV_TS=(); CLI_TS=();;
    split) SRV_TS=(taskset -c 0); CLI_TS=(taskset -c 1);;
    same)  SRV_TS=(taskset -c 0); CLI_TS=(taskset -c 0);;
    *) echo "PIN must be none|split|same" >&2; exit 2;;
  esac
  [ "$(nproc)" -ge 2 ] || { SRV_TS=(); CLI_TS=(); }
}
set_pin "$PIN"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for t in ip taskset curl tftp atftp in.tftpd dnsmasq nginx node; do command -v "$t" >/dev/null || die "missing $t (bash scripts/setup.sh)"; done

PIDS=()
NET=0
cleanup() {
  local p; for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [ "$NET" = 1 ]; then ip netns del "$NS_C" 2>/dev/null; ip netns del "$NS_S" 2>/dev/null; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local keep=() p; for p in "${PIDS[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done; PIDS=("${keep[@]}")
}
start_bg() { # LOG CMD... (in the server namespace)
  local l=$1; shift
  ip netns exec "$NS_S" "${SRV_TS[@]}" "$@" >"$l" 2>&1 &
  LAST=$!; PIDS+=("$LAST")
}
wait_listen() { # proto port seconds
  local i; for i in $(seq 1 $(($3 * 10))); do
    ip netns exec "$NS_S" ss -H -l -n "-$1" "sport = :$2" 2>/dev/null | grep -q . && return 0; sleep 0.1
  done; return 1
}
# CPU seconds of PID and its live children
cpu_of() {
  local t=0 p hz; hz=$(getconf CLK_TCK)
  for p in $1 $(pgrep -P "$1" 2>/dev/null) $(for c in $(pgrep -P "$1" 2>/dev/null); do pgrep -P "$c"; done); do
    [ -r /proc/$p/stat ] && t=$(( t + $(sed 's/^.*) //' /proc/$p/stat | awk '{print $12+$13+$14+$15}') ))
  done
  awk -v t="$t" -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}'
}
now() { date +%s.%N; }

# atftpd conflicts with tftpd-hpa in apt: use it unpacked from its .deb
ATFTPD=${ATFTPD:-$(command -v atftpd || echo "$WORK/deb/atftpd/usr/sbin/atftpd")}
if [[ " $SERVERS " == *" atftpd "* && ! -x "$ATFTPD" ]]; then
  mkdir -p "$WORK/deb" && (cd "$WORK/deb" && apt-get download atftpd >/dev/null 2>&1 && dpkg -x atftpd_*.deb atftpd) \
    || { log "atftpd unavailable (apt-get download atftpd failed); skipping it"; SERVERS=${SERVERS/atftpd/}; }
fi

mkdir -p "$WORK/root" "$WORK/out" "$ROOT_DIR/bench/results"
chmod 755 "$WORK" "$WORK/root"
F=boot$TFTP_MB.bin; H=image$HTTP_MB.bin
[ "$(stat -c %s "$WORK/root/$F" 2>/dev/null)" = $((TFTP_MB << 20)) ] || head -c $((TFTP_MB << 20)) /dev/urandom >"$WORK/root/$F"
if [[ " $PARTS " == *" http "* ]]; then
  [ "$(stat -c %s "$WORK/root/$H" 2>/dev/null)" = $((HTTP_MB << 20)) ] || head -c $((HTTP_MB << 20)) /dev/urandom >"$WORK/root/$H"
  cat "$WORK/root/$H" >/dev/null
fi
chmod 644 "$WORK/root"/*.bin
SUM_F=$(sha256sum "$WORK/root/$F" | cut -d' ' -f1)

ip netns add "$NS_S" && ip netns add "$NS_C" || die "netns add failed"; NET=1
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" || die "veth failed"
ip -n "$NS_S" link set lo up; ip -n "$NS_C" link set lo up
ip -n "$NS_S" addr add "$SRV_IP/24" dev "$IF_S"; ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C"
ip -n "$NS_S" link set "$IF_S" up; ip -n "$NS_C" link set "$IF_C" up
for ns in "$NS_S" "$NS_C"; do ip netns exec "$ns" sysctl -qw net.core.rmem_default=4194304 net.core.wmem_default=4194304 2>/dev/null || true; done
for i in $(seq 1 50); do ip netns exec "$NS_C" ping -c1 -W1 "$SRV_IP" >/dev/null 2>&1 && break; sleep 0.1; done
log "netns $NS_S($SRV_IP) <-> $NS_C($CLI_IP), PIN=$PIN"

start_crowbar() { # rundir tftp_enabled [tftp_workers] [datagram] [http_sendfile]
  local d=$1 w=${3:-${TFTP_WORKERS:--1}} dg=${4:-${TFTP_DATAGRAM:-native}} sf=${5:-auto}
  mkdir -p "$d/data"
  cat >"$d/config.json" <<EOF
{ "data_dir": "$d/data", "log_level": "${LOG_LEVEL:-warn}",
  "admin_network": { "interface": "$IF_S", "address": "$SRV_IP/24", "domain": "bench.test" },
  "services": { "dhcp": { "enabled": false }, "dns": { "enabled": false }, "ntp": { "enabled": false },
    "tftp": { "enabled": $2, "bind": "$SRV_IP", "port": 69, "root": "$WORK/root", "workers": $w, "datagram": "$dg" },
    "http": { "bind": "$SRV_IP", "port": 8080, "sendfile": "$sf" } } }
EOF
  start_bg "$d/server.log" node --import tsx "$ROOT_DIR/src/cli.ts" serve --config "$d/config.json"
}

start_tftp() { # server rundir
  local s=$1 d=$2
  case "$s" in
    crowbar)   start_crowbar "$d" true;;
    crowbar-*) # crowbar[-wN][-dgram|-native]
      local rest=${s#crowbar} w='' dg=''
      case "$rest" in *-dgram) dg=dgram; rest=${rest%-dgram};; *-native) dg=native; rest=${rest%-native};; esac
      case "$rest" in -w*) w=${rest#-w};; '') ;; *) die "unknown server $s";; esac
      start_crowbar "$d" true "$w" "$dg";;
    tftpd-hpa) start_bg "$d/server.log" in.tftpd -L -s -u root -a "$SRV_IP:69" "$WORK/root";;
    dnsmasq)   start_bg "$d/server.log" dnsmasq -k --port=0 --enable-tftp --tftp-root="$WORK/root" --listen-address="$SRV_IP" \
                 --bind-interfaces --user=root --log-facility=- --pid-file="$d/dnsmasq.pid";;
    atftpd)    start_bg "$d/server.log" "$ATFTPD" --daemon --no-fork --bind-address "$SRV_IP" --port 69 --user root --group root \
                 --logfile "$d/atftpd.log" "$WORK/root";;
    *) die "unknown server $s";;
  esac
  SRV=$LAST
  wait_listen u 69 30 || { cat "$d/server.log" >&2; die "$s did not open udp/69"; }
  sleep 0.3
}

client_cmd() { # config outfile
  case "$1" in
    hpa512)   CMD=(tftp -m binary "$SRV_IP" -c get "$F" "$2");;
    curl*)    CMD=(curl -sS -o "$2" --tftp-blksize "${1#curl}" "tftp://$SRV_IP/$F");;
    atftp*w*) local b=${1#atftp}; CMD=(atftp -g -r "$F" -l "$2" --option "blksize ${b%w*}" --option "windowsize ${b#*w}" "$SRV_IP");;
    *) die "unknown client $1";;
  esac
}

TS=$(date +%Y%m%d-%H%M%S)
if [[ " $PARTS " == *" tftp "* ]]; then
  CSV=$ROOT_DIR/bench/results/tftp-$TS.csv
  echo "server,test,repeat,seconds,mb_per_s,ok" >"$CSV"
  WANT=$(stat -c %s "$WORK/root/$F")
  for rep in $(seq 1 "$REPEATS"); do
    for s in $SERVERS; do
      d=$WORK/run-$s-$rep; rm -rf "$d"; mkdir -p "$d"
      start_tftp "$s" "$d"
      for c in hpa512 curl1468 atftp1468w16; do
        o=$WORK/out/$s.$c; rm -f "$o"; client_cmd "$c" "$o"
        t0=$(now); timeout "$XFER_TIMEOUT" ip netns exec "$NS_C" "${CLI_TS[@]}" "${CMD[@]}" >"$d/client-$c.log" 2>&1; t1=$(now)
        ok=0; [ "$(stat -c %s "$o" 2>/dev/null)" = "$WANT" ] && ok=1
        if [ "$rep" = 1 ] && [ "$ok" = 1 ] && [ "$(sha256sum "$o" | cut -d' ' -f1)" != "$SUM_F" ]; then ok=0; log "$s $c: sha256 mismatch"; fi
        rm -f "$o"
        awk -v s="$s" -v c="$c" -v r="$rep" -v t0="$t0" -v t1="$t1" -v w="$WANT" -v ok="$ok" \
          'BEGIN{dt=t1-t0; printf "%s,%s,%s,%.3f,%.2f,%d\n", s,c,r,dt,ok*w/1e6/dt,ok}' >>"$CSV"
        log "rep $rep $(tail -1 "$CSV")"
      done
      pids=(); t0=$(now)
      for i in $(seq 1 "$NCONC"); do
        rm -f "$WORK/out/conc$i"
        timeout "$XFER_TIMEOUT" ip netns exec "$NS_C" "${CLI_TS[@]}" curl -sS -o "$WORK/out/conc$i" --tftp-blksize 1468 \
          "tftp://$SRV_IP/$F" >"$d/conc$i.log" 2>&1 & pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p"; done
      t1=$(now); nok=0
      for i in $(seq 1 "$NCONC"); do [ "$(stat -c %s "$WORK/out/conc$i" 2>/dev/null)" = "$WANT" ] && nok=$((nok+1)); rm -f "$WORK/out/conc$i"; done
      awk -v s="$s" -v n="$NCONC" -v r="$rep" -v t0="$t0" -v t1="$t1" -v w="$WANT" -v ok="$nok" \
        'BEGIN{dt=t1-t0; printf "%s,conc%d,%s,%.3f,%.2f,%d\n", s,n,r,dt,ok*w/1e6/dt,ok}' >>"$CSV"
      log "rep $rep $(tail -1 "$CSV")"
      stop_pid "$SRV"
    done
  done
  echo
  echo "## TFTP, ${TFTP_MB} MiB file, PIN=$PIN, median (min-max) of $REPEATS -- $CSV"
  echo "(conc rows: MB/s = aggregate until all $NCONC clients finish; ok = clients complete per run)"
  node "$ROOT_DIR/bench/tftp-summary.mjs" "$CSV" crowbar
fi

if [[ " $PARTS " == *" http "* ]]; then
  WANT=$(stat -c %s "$WORK/root/$H")
  for HPIN in $HTTP_PINS; do
  set_pin "$HPIN"
  CSV=$ROOT_DIR/bench/results/http-boot-$HPIN-$TS.csv
  echo "server,test,repeat,seconds,mb_per_s,ok,srv_cpu_s" >"$CSV"
  for rep in $(seq 1 "$REPEATS"); do
    for s in $HTTP_SERVERS; do
      d=$WORK/http-$s-$rep; rm -rf "$d"; mkdir -p "$d/tmp"
      if [ "$s" = crowbar ]; then
        start_crowbar "$d" false; URL=http://$SRV_IP:8080/boot/files/$H
      elif [ "$s" = crowbar-stream ]; then # services.http.sendfile: off (the streaming loop)
        start_crowbar "$d" false '' '' off; URL=http://$SRV_IP:8080/boot/files/$H
      else
        cat >"$d/nginx.conf" <<EOF
daemon off; worker_processes auto; pid $d/nginx.pid; error_log $d/error.log warn;
events { worker_connections 1024; }
http { sendfile on; tcp_nopush on; access_log off; default_type application/octet-stream;
  client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp; uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
  server { listen $SRV_IP:8080; location /boot/files/ { alias $WORK/root/; } } }
EOF
        start_bg "$d/server.log" nginx -c "$d/nginx.conf" -p "$d"; URL=http://$SRV_IP:8080/boot/files/$H
      fi
      SRV=$LAST
      wait_listen t 8080 30 || { cat "$d/server.log" >&2; die "$s did not listen on tcp/8080"; }
      # warm-up: one 1 MiB range, so each server has run its body path (crowbar: sendfile) once
      ip netns exec "$NS_C" curl -s -o /dev/null -r 0-1048575 "$URL" || true
      for n in 1 "$NPAR"; do
        pids=(); c0=$(cpu_of "$SRV"); t0=$(now)
        for i in $(seq 1 "$n"); do
          timeout "$XFER_TIMEOUT" ip netns exec "$NS_C" "${CLI_TS[@]}" curl -sS -o /dev/null -w '%{size_download}\n' "$URL" >"$d/c$n-$i.out" 2>&1 & pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p"; done
        t1=$(now); c1=$(cpu_of "$SRV"); ok=0
        for i in $(seq 1 "$n"); do [ "$(head -1 "$d/c$n-$i.out")" = "$WANT" ] && ok=$((ok+1)); done
        awk -v s="$s" -v n="$n" -v r="$rep" -v t0="$t0" -v t1="$t1" -v w="$WANT" -v ok="$ok" -v c0="$c0" -v c1="$c1" \
          'BEGIN{dt=t1-t0; printf "%s,x%d,%s,%.3f,%.1f,%d,%.2f\n", s,n,r,dt,ok*w/1e6/dt,ok,c1-c0}' >>"$CSV"
        log "rep $rep $(tail -1 "$CSV")"
      done
      stop_pid "$SRV"
    done
  done
  echo
  echo "## HTTP ${HTTP_MB} MiB file, curl x1 and x$NPAR parallel, PIN=$HPIN, median (min-max) of $REPEATS -- $CSV"
  node "$ROOT_DIR/bench/tftp-summary.mjs" "$CSV" crowbar
  done
fi
