#!/usr/bin/env bash
# Helpers for bench/dns.bench.sh and bench/ntp.bench.sh: two network
# namespaces created for this run (server/client, veth, 10.88.0.1/16 and
# 10.88.0.2/16, no default route), processes started and stopped by PID,
# everything removed on exit.
BENCH_SRV=cb$$s; BENCH_CLI=cb$$c; BENCH_SRV_IF=cb$$a; BENCH_CLI_IF=cb$$b
BENCH_SRV_IP=10.88.0.1; BENCH_CLI_IP=10.88.0.2
BENCH_PIDS=(); BENCH_NET=0; BENCH_WORK=""
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is missing (bash scripts/setup.sh installs it)"; }
in_srv() { ip netns exec "$BENCH_SRV" "$@"; }
in_cli() { ip netns exec "$BENCH_CLI" "$@"; }

bench_net_up() { # label
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
  BENCH_WORK=$(mktemp -d "/tmp/crowbar-bench-$1-XXXXXX"); chmod 755 "$BENCH_WORK"
  ip netns add "$BENCH_SRV"; ip netns add "$BENCH_CLI"; BENCH_NET=1
  ip link add "$BENCH_SRV_IF" netns "$BENCH_SRV" type veth peer name "$BENCH_CLI_IF" netns "$BENCH_CLI"
  in_srv ip link set lo up; in_cli ip link set lo up
  in_srv ip addr add "$BENCH_SRV_IP/16" dev "$BENCH_SRV_IF"; in_cli ip addr add "$BENCH_CLI_IP/16" dev "$BENCH_CLI_IF"
  in_srv ip link set "$BENCH_SRV_IF" up; in_cli ip link set "$BENCH_CLI_IF" up
  for ns in "$BENCH_SRV" "$BENCH_CLI"; do
    ip netns exec "$ns" sysctl -qw net.core.rmem_default=4194304 net.core.wmem_default=4194304 net.core.rmem_max=8388608 net.core.wmem_max=8388608 2>/dev/null || true
  done
  for _ in $(seq 1 50); do in_cli ping -c1 -W1 "$BENCH_SRV_IP" >/dev/null 2>&1 && break; sleep 0.1; done
}

bench_start() { # logfile cmd... (runs in the server namespace)
  local logf=$1; shift
  ip netns exec "$BENCH_SRV" "$@" >"$logf" 2>&1 &
  BENCH_LAST_PID=$!; BENCH_PIDS+=("$BENCH_LAST_PID")
}

bench_stop() { # pid: TERM, up to 5 s, then KILL (that PID only)
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local p; for p in "${BENCH_PIDS[@]}"; do bench_stop "$p"; done
  if [ "$BENCH_NET" = 1 ]; then ip netns del "$BENCH_CLI" 2>/dev/null; ip netns del "$BENCH_SRV" 2>/dev/null; fi
  [ -n "$BENCH_WORK" ] && [ -z "${KEEP:-}" ] && rm -rf "$BENCH_WORK"
  return 0
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

cpu_of() { # CPU seconds (user+sys) of PID and its direct children
  local t=0 p hz; hz=$(getconf CLK_TCK)
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] && t=$(( t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12+$13}') ))
  done
  awk -v t="$t" -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}'
}

summarize() { # csv ours reference col... : medians (min-max) per server and ratio ours/reference
  python3 - "$@" <<'PY'
import csv, statistics, sys
f, ours, ref, cols = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
rows = list(csv.DictReader(open(f)))
def vals(s, c):
    out = []
    for r in rows:
        if r["server"] != s: continue
        try: out.append(float(r[c]))
        except ValueError: pass
    return out
fmt = lambda x: f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"
print("| server | " + " | ".join(cols) + " |"); print("|---" * (len(cols) + 1) + "|")
med = {}
for s in (ours, ref):
    cells = []
    for c in cols:
        v = vals(s, c)
        if v:
            med[(s, c)] = statistics.median(v)
            cells.append(f"{fmt(med[(s, c)])} ({fmt(min(v))}-{fmt(max(v))})")
        else: cells.append("n/a")
    print(f"| {s} | " + " | ".join(cells) + " |")
cells = []
for c in cols:
    a, b = med.get((ours, c)), med.get((ref, c))
    cells.append(f"{a / b:.2f}" if a is not None and b else "n/a")
print(f"| ratio {ours}/{ref} | " + " | ".join(cells) + " |")
PY
}
