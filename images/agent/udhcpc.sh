#!/bin/sh
# udhcpc event script: configure the address, route and resolver; remember
# the lease in /run/lease.env for the agent.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    old=$(cat /run/lease.ip 2>/dev/null)
    if [ "$old" != "$ip" ]; then
      ip -4 addr flush dev "$interface"
      ip addr add "$ip/${mask:-24}" dev "$interface"
    fi
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
    echo "$ip" > /run/lease.ip
    clean() { printf '%s' "$1" | tr -cd 'A-Za-z0-9._:/ -'; }
    {
      echo "LEASE_IFACE='$(clean "$interface")'"
      echo "LEASE_IP='$(clean "$ip")'"
      echo "LEASE_MASK='$(clean "$mask")'"
      echo "LEASE_ROUTER='$(clean "$router")'"
      echo "LEASE_SERVER='$(clean "$serverid")'"
      echo "LEASE_HOSTNAME='$(clean "$hostname")'"
      echo "LEASE_DOMAIN='$(clean "$domain")'"
    } > /run/lease.env
    echo "[crowbar-agent] dhcp $1: $ip/$mask on $interface from $serverid" >> /run/agent.log
    ;;
esac
exit 0
