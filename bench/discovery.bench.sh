#!/usr/bin/env bash
# Discovery benchmark: time from power-on to `discovered` for N machines booting
# at once (N in $DISC_BENCH_SIZES, default "1 4 8"), $DISC_BENCH_REPS runs each
# (default 3), in a private lab (lab/*.sh: netns + bridge + appliance + qemu).
# Prints per size the median over runs of: the slowest machine, the median machine,
# and the ratio to the single-machine time (how boot time scales with load).
# There is no reference server for this flow (the whole appliance is under test);
# the ratios against N=1 are the comparison. Needs root. Runtime under TCG on 2 cores:
# about 1 min per run of 8 machines.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "discovery bench: needs root, skipped" >&2; exit 0; }
SIZES=${DISC_BENCH_SIZES:-1 4 8}
REPS=${DISC_BENCH_REPS:-3}
source bench/lab-bench-lib.sh
bench_lab_up b
# "<mac> <created_at ms>" per node
nodes_created() {
  bench_api GET /api/v1/nodes |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const n of JSON.parse(s).nodes)console.log(n.macs[0],n.created_at)})'
}

echo "discovery bench: accel $(lab_accel), $(nproc) cpus, sizes [$SIZES], $REPS runs each"
declare -A SLOW MED
run=0
for n in $SIZES; do
  slow=(); med=()
  for r in $(seq 1 "$REPS"); do
    run=$((run + 1))
    names=()
    for i in $(seq 1 "$n"); do
      name="r${run}m$i"; names+=("$name")
      fw=bios; ((i % 2 == 0)) && fw=uefi
      CBLAB_CONFIG_ONLY=1 bash lab/vm.sh start "$name" --fw "$fw" --mem 256 --disk 1G
    done
    for name in "${names[@]}"; do bash lab/vm.sh start "$name" 2> /dev/null; done
    deadline=$((SECONDS + 300))
    declare -A T=()
    while ((SECONDS < deadline)); do
      js=$(nodes_created || true)
      for name in "${names[@]}"; do
        [[ -n "${T[$name]:-}" ]] && continue
        mac=$(sed -n 's/^MAC=//p' "$CBLAB_STATE/vm/$name/config" | tr -d '"')
        created=$(printf '%s\n' "$js" | awk -v m="$mac" '$1 == m {print $2}')
        [[ -n "$created" ]] && T[$name]=$(awk -v c="$created" -v s="$(cat "$CBLAB_STATE/vm/$name/started_at_ms")" 'BEGIN{printf "%.1f", (c-s)/1000}')
      done
      ((${#T[@]} == n)) && break
      sleep 0.5
    done
    for name in "${names[@]}"; do bash lab/vm.sh stop "$name"; done
    ((${#T[@]} == n)) || { echo "  N=$n run $r: only ${#T[@]}/$n machines discovered within 300 s" >&2; exit 1; }
    times=$(printf '%s\n' "${T[@]}")
    s=$(echo "$times" | sort -n | tail -1); m=$(echo "$times" | median)
    echo "  N=$n run $r: power-on -> discovered per machine: $(echo "$times" | sort -n | tr '\n' ' ')s (slowest $s s)"
    slow+=("$s"); med+=("$m")
    unset T
  done
  SLOW[$n]=$(printf '%s\n' "${slow[@]}" | median)
  MED[$n]=$(printf '%s\n' "${med[@]}" | median)
done
first=${SIZES%% *}
echo
printf '%-6s %-28s %-28s %s\n' "N" "median machine (s, med of $REPS)" "slowest machine (s, med of $REPS)" "slowest / single"
for n in $SIZES; do
  printf '%-6s %-28s %-28s %s\n' "$n" "${MED[$n]}" "${SLOW[$n]}" "$(awk -v a="${SLOW[$n]}" -v b="${SLOW[$first]}" 'BEGIN{printf "%.2fx", a/b}')"
done
