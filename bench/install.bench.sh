#!/usr/bin/env bash
# Image-install benchmark (docs/image-install.md): time from power-on to `ready` for N
# machines powered on at once (N in $INSTALL_BENCH_SIZES, default "1 4"), $INSTALL_BENCH_REPS
# runs each (default 3), in a private lab (lab/*.sh: netns + bridge + appliance + qemu + ipmi_sim).
# Each machine: BIOS or UEFI ($INSTALL_BENCH_FW: bios, uefi or alternate), 768 MB, 4 GB disk, a simulated BMC with in-band KCS.
# Per phase (from the node's transition events; power-on from the VM start time), median over
# machines then over runs: discovered, hardware-installed, installing, installed (image
# written), readying (booted from disk, join started), ready. No reference implementation runs
# here; N=1 is the baseline for N=4. Needs root. Under TCG on 2 shared cores a run takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "install bench: needs root, skipped" >&2; exit 0; }
SIZES=${INSTALL_BENCH_SIZES:-1 4}
REPS=${INSTALL_BENCH_REPS:-3}
# bios, uefi or alternate (odd machines BIOS, even UEFI; the default, so both local-boot paths are measured).
FW=${INSTALL_BENCH_FW:-alternate}
t=$SECONDS; bash images/build-root-image.sh > /dev/null; echo "root image: up to date or built in $((SECONDS - t)) s ($(du -h /var/cache/crowbar/root-image/image/root.tar.zst | cut -f1))"
source bench/lab-bench-lib.sh
bench_lab_up i
api() { bench_api "$@"; }
js() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s||'null');$1})"; }
for i in $(seq 1 120); do api GET /api/v1/os | grep -q debian-12-amd64-image && break; sleep 1; done
commit() { # BC [node-expression editing d]
  api POST "/api/v1/barclamps/$1/proposals" '{"name":"default"}' > /dev/null
  if [[ -n "${2:-}" ]]; then
    doc=$(api GET "/api/v1/barclamps/$1/proposals/default" | js "const d=j.proposal;$2;console.log(JSON.stringify(d))")
    api PUT "/api/v1/barclamps/$1/proposals/default" "$doc" > /dev/null
  fi
  api POST "/api/v1/barclamps/$1/proposals/default/commit" | js 'if(j.status!=="applied"){console.error(JSON.stringify(j));process.exit(1)}'
}
commit crowbar
commit network 'delete d.attributes.network.networks.bmc; d.attributes.network.node_networks=(d.attributes.network.node_networks||[]).filter(n=>n!=="bmc")'
for bc in dns ntp deployer provisioner; do commit "$bc"; done

PHASES=(discovered hardware-installed installing installed readying ready)
echo "install bench: accel $(lab_accel), $(nproc) cpus, firmware $FW, sizes [$SIZES], $REPS runs each"
declare -A RES
run=0; bmc=0
for n in $SIZES; do
  for r in $(seq 1 "$REPS"); do
    run=$((run + 1)); names=(); ips=()
    for i in $(seq 1 "$n"); do
      name="r${run}m$i"; names+=("$name"); fw=$FW; [[ $FW == alternate ]] && { fw=bios; ((i % 2 == 0)) && fw=uefi; }
      ip="$CBLAB_NET.$((200 + bmc))"; bmc=$((bmc + 1)); ips+=("$ip")
      bash lab/bmc.sh start "$name" --ip "$ip" --inband -- --fw "$fw" --mem 768 --disk 4G --reboot 2> /dev/null
    done
    for ip in "${ips[@]}"; do
      ip netns exec "$CBLAB_NS" ipmitool -I lanplus -C 3 -H "$ip" -U "$CBLAB_BMC_USER" -P "$CBLAB_BMC_PASS" chassis power on > /dev/null
    done
    declare -A NODE=() DONE=()
    deadline=$((SECONDS + 1800))
    while ((SECONDS < deadline && ${#DONE[@]} < n)); do
      list=$(api GET /api/v1/nodes)
      for name in "${names[@]}"; do
        mac=$(sed -n 's/^MAC=//p' "$CBLAB_STATE/vm/$name/config" | tr -d '"')
        st=$(printf '%s' "$list" | js "const x=j.nodes.find(n=>n.macs[0]==='$mac');console.log(x?x.name+' '+x.state:'')")
        [[ -n "$st" ]] || continue
        NODE[$name]=${st%% *}
        case "${st##* }" in
          discovered) api POST "/api/v1/nodes/${NODE[$name]}/transition" '{"to":"hardware-installing"}' > /dev/null ;;
          ready) DONE[$name]=1 ;;
          problem) echo "  $name (${NODE[$name]}) is in problem" >&2; DONE[$name]=1 ;;
        esac
      done
      sleep 2
    done
    for name in "${names[@]}"; do
      [[ -n "${NODE[$name]:-}" ]] || { echo "  run $run: $name never registered" >&2; continue; }
      t0=$(cat "$CBLAB_STATE/vm/$name/started_at_ms")
      line=$(api GET "/api/v1/nodes/${NODE[$name]}/events" | js "const first={};for(const e of [...j.events].sort((a,b)=>a.at-b.at)) if(!(e.to_state in first)) first[e.to_state]=e.at; console.log('${PHASES[*]}'.split(' ').map(p=>first[p]?((first[p]-$t0)/1000).toFixed(1):'nan').join(' '))")
      echo "  N=$n run $r $name: ${PHASES[*]} = $line s"
      k=0; for v in $line; do RES["$n,${PHASES[$k]},$r"]+="$v "; k=$((k + 1)); done
    done
    for name in "${names[@]}"; do bash lab/bmc.sh stop "$name" 2> /dev/null || true; bash lab/vm.sh stop "$name" 2> /dev/null || true; done
    unset NODE DONE
  done
done
echo
printf '%-4s' "N"; for p in "${PHASES[@]}"; do printf '%-20s' "$p"; done; echo "(s since power-on; median machine, median of runs)"
for n in $SIZES; do
  printf '%-4s' "$n"
  for p in "${PHASES[@]}"; do
    v=$(for r in $(seq 1 "$REPS"); do printf '%s\n' ${RES["$n,$p,$r"]:-nan} | grep -v nan | median; done | grep -v nan | median)
    printf '%-20s' "$v"
  done
  echo
done
