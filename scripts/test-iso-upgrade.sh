#!/usr/bin/env bash
# npm run test:iso:upgrade (root; docs/iso.md "Upgrades"): the crowbar package upgrade keeps
# the data and runs the migrations. Package level, no VM:
#   1. a Debian 12 root (the ISO build's cached mmdebstrap base) in a temp dir; dpkg -i the
#      crowbar package built by images/build-iso.sh
#   2. the appliance runs in it (chroot, user crowbar, own network namespace, HTTP only on
#      127.0.0.1:18080): a node is created and a barclamp `isotest` installed through the API
#   3. the database is put back to schema 6 (migration 7's tables dropped: what a Crowbar from
#      before migration 7 left) and every file under /var/lib/crowbar is checksummed
#   4. a newer package (same contents, higher version) is installed with dpkg -i: the
#      checksums are unchanged (dpkg never touches /var/lib/crowbar)
#   5. the appliance starts again: schema 7 (migration ran), node and barclamp still there
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$SECONDS
log() { printf '[test-iso-upgrade %(%H:%M:%S)T +%ss] %s\n' -1 "$((SECONDS - T0))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root"
CACHE=${CROWBAR_ISO_CACHE:-/var/cache/crowbar/iso}

ISO=$(bash images/build-iso.sh)
DEB=$(ls -t "$(dirname "$ISO")"/crowbar_*_amd64.deb | head -1)
BASE=$(ls -t "$CACHE"/rootfs/*.tar | head -1)
OLDVER=$(dpkg-deb -f "$DEB" Version)
log "package $DEB ($OLDVER), base $BASE"

W=$(mktemp -d /var/tmp/crowbar-upgrade.XXXXXX)
R="$W/root"; NS="cbupg-$$"
APID=""
cleanup() {
  [[ -n "$APID" ]] && kill "$APID" 2>/dev/null || true
  for m in dev/pts dev proc sys; do umount "$R/$m" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$R"
tar -xf "$BASE" -C "$R"
mount -t proc proc "$R/proc"; mount --bind /sys "$R/sys"; mount --bind /dev "$R/dev"; mount --bind /dev/pts "$R/dev/pts"
ip netns add "$NS"; ip -n "$NS" link set lo up
inroot() { chroot "$R" "$@"; }

cp "$DEB" "$R/tmp/old.deb"
inroot dpkg -i /tmp/old.deb > "$W/dpkg-old.log" 2>&1 || { cat "$W/dpkg-old.log" >&2; die "dpkg -i $OLDVER"; }
log "installed $OLDVER into a fresh Debian 12 root"
cat > "$R/etc/crowbar/crowbar.yaml" <<'EOF'
data_dir: /var/lib/crowbar
admin_network: { interface: lo, address: 127.0.0.1/8, domain: upgrade.test }
services:
  dhcp: { enabled: false }
  tftp: { enabled: false }
  dns: { enabled: false }
  ntp: { enabled: false }
  http: { bind: 127.0.0.1, port: 18080 }
  power: { enabled: false }
EOF
install -d -m 0700 "$R/var/lib/crowbar"; inroot chown crowbar:crowbar /var/lib/crowbar
URL=http://127.0.0.1:18080
start() {
  ip netns exec "$NS" chroot --userspec=crowbar:crowbar "$R" env HOME=/var/lib/crowbar PATH=/opt/crowbar/node/bin:/usr/bin:/bin \
    /opt/crowbar/bin/crowbar serve --config /etc/crowbar/crowbar.yaml > "$W/appliance.log" 2>&1 &
  APID=$!
  for _ in $(seq 1 120); do ip netns exec "$NS" curl -fs -o /dev/null "$URL/api/v1/health" && return 0; kill -0 "$APID" 2>/dev/null || break; sleep 1; done
  grep -v -i -E 'token|password' "$W/appliance.log" >&2 || true; die "the appliance did not start"
}
stop() { kill "$APID"; wait "$APID" 2>/dev/null || true; APID=""; }
api() { ip netns exec "$NS" curl -fsS -H "authorization: Bearer $(cat "$R/var/lib/crowbar/admin.token")" "$@"; }

start
api -H 'content-type: application/json' -d '{"macs":["52:54:00:aa:bb:01"]}' "$URL/api/v1/nodes" >/dev/null
inroot crowbar barclamp create isotest Upgrade /tmp >/dev/null
ip netns exec "$NS" chroot "$R" env CROWBAR_URL=$URL CROWBAR_TOKEN="$(cat "$R/var/lib/crowbar/admin.token")" crowbar barclamp install /tmp/isotest >/dev/null
api "$URL/api/v1/barclamps" | grep -q '"isotest"' || die "barclamp isotest not installed"
stop
ls "$R/var/lib/crowbar"/*.db >/dev/null 2>&1 || die "no database in /var/lib/crowbar"
DB=$(basename "$(ls "$R/var/lib/crowbar"/*.db | head -1)")
schema_cmd() { inroot /opt/crowbar/node/bin/node -e "const D=require('/opt/crowbar/node_modules/better-sqlite3'); const d=new D('/var/lib/crowbar/$DB'); $1; console.log(d.pragma('user_version',{simple:true})); d.close()"; }
v_before=$(schema_cmd "d.exec('DROP TABLE node_os; DROP TABLE os_media'); d.pragma('user_version = 6')")
[[ "$v_before" == 6 ]] || die "could not set schema 6"
log "data: a node and barclamp isotest; database $DB set back to schema 6"
(cd "$R/var/lib/crowbar" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$W/before"

# a newer package: same payload, higher version
rm -rf "$W/new"; dpkg-deb -R "$DEB" "$W/new"
NEWVER="$OLDVER.upgrade1"
sed -i "s/^Version: .*/Version: $NEWVER/" "$W/new/DEBIAN/control"
echo "$NEWVER" > "$W/new/opt/crowbar/VERSION"
dpkg-deb --root-owner-group -Zgzip -z1 -b "$W/new" "$R/tmp/new.deb" >/dev/null
inroot dpkg -i /tmp/new.deb > "$W/dpkg-new.log" 2>&1 || { cat "$W/dpkg-new.log" >&2; die "dpkg -i $NEWVER"; }
[[ "$(inroot dpkg-query -W -f '${Version}' crowbar)" == "$NEWVER" ]] || die "crowbar $NEWVER not installed"
(cd "$R/var/lib/crowbar" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$W/after"
cmp -s "$W/before" "$W/after" || { diff "$W/before" "$W/after" >&2; die "the upgrade changed /var/lib/crowbar"; }
log "upgraded to $NEWVER with dpkg -i: /var/lib/crowbar unchanged ($(wc -l < "$W/after") files)"

start
api "$URL/api/v1/nodes" | grep -q '52:54:00:aa:bb:01' || die "node lost"
api "$URL/api/v1/barclamps" | grep -q '"isotest"' || die "barclamp isotest lost"
stop
v_after=$(schema_cmd "")
[[ "$v_after" == 7 ]] || die "schema $v_after after the upgrade, expected 7"
log "PASS: after the upgrade the appliance migrated schema 6 -> $v_after; node and barclamp isotest kept"
