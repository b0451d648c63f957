# Shared by the lab benchmarks (discovery.bench.sh, install.bench.sh); source it from the
# repository root after `set -euo pipefail`.
#
#   bench_lab_up PREFIX
#     a private lab named PREFIX<random> on a random 10.160-219.x.0/24: discovery image
#     (in $CROWBAR_DISCOVERY_CACHE when set, else the default cache),
#     acceleration check, bridge + namespace, router advertisements, the appliance; sets
#     TOKEN (admin token) and tears the lab down (--purge) on exit.
#   bench_api METHOD PATH [JSON]   authenticated call to the lab appliance's API
#   median                         median of the numbers on stdin ("nan" when none)

bench_lab_up() {
  local prefix=$1
  export CBLAB_NAME="$prefix$(printf '%04x' $((RANDOM % 65536)))" CBLAB_NET="10.$((160 + RANDOM % 60)).$((RANDOM % 250))"
  export CBLAB_STATE="/var/tmp/cblab/$CBLAB_NAME"
  [[ -n "${CROWBAR_DISCOVERY_CACHE:-}" ]] && export CBLAB_IMAGE="$CROWBAR_DISCOVERY_CACHE/image"
  # shellcheck source=../lab/lib.sh
  source lab/lib.sh
  bash images/build-discovery.sh ${CROWBAR_DISCOVERY_CACHE:+--cache "$CROWBAR_DISCOVERY_CACHE"} > /dev/null
  [[ -f "$CBLAB_CACHE/lab-accel" ]] || bash lab/check-kvm.sh > /dev/null
  trap 'bash lab/down.sh --purge > /dev/null 2>&1' EXIT
  bash lab/up.sh 2> /dev/null
  bash lab/ra.sh start 2> /dev/null
  bash lab/appliance.sh start 2> /dev/null
  TOKEN=$(cat "$CBLAB_STATE/appliance/admin.token")
}

bench_api() {
  if [[ $# -ge 3 ]]; then
    ip netns exec "$CBLAB_NS" curl -s -m 20 -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary "$3" "http://$CBLAB_SERVER_IP$2"
  else
    ip netns exec "$CBLAB_NS" curl -s -m 20 -X "$1" -H "Authorization: Bearer $TOKEN" "http://$CBLAB_SERVER_IP$2"
  fi
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
