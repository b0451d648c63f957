#!/bin/sh
# Crowbar admin node first boot (docs/iso.md).
#   firstboot.sh setup  (before the network; only while /etc/crowbar/seed.conf exists)
#     writes the admin interface's systemd-networkd file, /etc/crowbar/crowbar.yaml,
#     /etc/hosts and the root password from the seed the installer left.
#   firstboot.sh ready  (every boot, after crowbar.service)
#     waits for the API health, sets the console user admin's password from the seed
#     (first boot), deletes the seed (it holds the password) and prints the console URL.
set -eu
SEED=/etc/crowbar/seed.conf
log() { echo "crowbar-firstboot: $*"; }

# key=value lines; only known keys, values read literally (never sourced)
seed() { sed -n "s/^$1=//p" "$SEED" | tail -1; }

setup() {
  [ -f "$SEED" ] || { log "no seed, nothing to do"; return 0; }
  iface=$(seed interface); addr=$(seed address); domain=$(seed domain); router=$(seed router)
  host_range=$(seed host_range); dhcp_range=$(seed dhcp_range)
  : "${iface:=eth0}" "${addr:=192.168.124.10/24}" "${domain:=crowbar.test}"
  log "admin network: $iface $addr domain $domain${router:+ router $router}"
  mkdir -p /etc/systemd/network
  {
    echo "# written by crowbar-firstboot from the installer seed"
    echo "[Match]"; echo "Name=$iface"
    echo "[Link]"; echo "RequiredForOnline=yes"
    echo "[Network]"; echo "Address=$addr"; echo "ConfigureWithoutCarrier=yes"; echo "LinkLocalAddressing=ipv6"
    [ -n "$router" ] && echo "Gateway=$router"
    # DHCP replies to 255.255.255.255 need a route for the limited broadcast when there is
    # no default route (docs/dhcp.md; lab/up.sh does the same on the lab bridge)
    echo "[Route]"; echo "Destination=255.255.255.255/32"; echo "Scope=link"
    true
  } > /etc/systemd/network/10-crowbar-admin.network
  {
    echo "# Crowbar appliance configuration, written at first boot (docs/iso.md);"
    echo "# every key: /opt/crowbar/crowbar.example.yaml"
    echo "data_dir: /var/lib/crowbar"
    echo "admin_network:"
    echo "  interface: $iface"
    echo "  address: $addr"
    echo "  domain: $domain"
    [ -n "$router" ] && echo "  router: $router"
    [ -n "$host_range" ] && { echo "  host_range_start: ${host_range%-*}"; echo "  host_range_end: ${host_range#*-}"; }
    if [ -n "$dhcp_range" ]; then
      echo "services:"; echo "  dhcp:"
      echo "    range_start: ${dhcp_range%-*}"; echo "    range_end: ${dhcp_range#*-}"
    fi
    true
  } > /etc/crowbar/crowbar.yaml
  ip=${addr%/*}
  echo crowbar > /etc/hostname
  hostname crowbar 2>/dev/null || true
  printf '127.0.0.1\tlocalhost\n%s\tcrowbar.%s crowbar\n' "$ip" "$domain" > /etc/hosts
  pw=$(seed password)
  if [ -n "$pw" ]; then
    printf 'root:%s\n' "$pw" | chpasswd
    passwd -u root >/dev/null 2>&1 || true
    log "root password set (same as the console admin's)"
  fi
}

ready() {
  url=http://127.0.0.1/api/v1/health
  i=0
  until curl -fs -o /dev/null --max-time 5 "$url"; do
    i=$((i + 1)); [ $i -lt 300 ] || { log "the appliance did not answer $url (journalctl -u crowbar)"; exit 1; }
    sleep 2
  done
  ip=$(sed -n 's/^  address: //p' /etc/crowbar/crowbar.yaml | head -1); ip=${ip%/*}
  if [ -f "$SEED" ]; then
    pw=$(seed password)
    if [ -n "$pw" ]; then
      token=$(cat /var/lib/crowbar/admin.token)
      P="$pw" /opt/crowbar/node/bin/node -e 'process.stdout.write(JSON.stringify({password: process.env.P}))' |
        curl -fsS -o /dev/null -X PATCH -H "authorization: Bearer $token" -H 'content-type: application/json' \
          --data-binary @- http://127.0.0.1/api/v1/users/admin
      rm -f /var/lib/crowbar/admin.password
      log "console user admin: password from the seed"
    fi
    rm -f "$SEED"
  fi
  msg="Crowbar $(cat /opt/crowbar/VERSION) is up: console http://$ip/console/ (user admin); API token: /var/lib/crowbar/admin.token"
  mkdir -p /etc/issue.d; printf '%s\n\n' "$msg" > /etc/issue.d/crowbar.issue
  log "$msg"
  [ -w /dev/tty1 ] && echo "$msg" > /dev/tty1 2>/dev/null || true
}

case "${1:-}" in
  setup) setup ;;
  ready) ready ;;
  *) echo "usage: firstboot.sh setup|ready" >&2; exit 2 ;;
esac
