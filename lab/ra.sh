#!/usr/bin/env bash
# IPv6 router advertisements on the lab bridge (radvd, from Debian).
# Why: iPXE configures IPv6 and IPv4 together and, on a segment without any
# router advertisement, waits about 13 s for IPv6 autoconfiguration before it
# uses its DHCPv4 lease. Node.js has no raw ICMPv6 socket, so the appliance
# does not send RAs itself; in the lab (and on a real admin network without a
# router) radvd does. The RA announces a ULA prefix and no default route
# (router lifetime 0), so nothing is routed.
# Usage: ra.sh start | stop
source "$(dirname "$0")/lib.sh"
lab_need_root
pf="$CBLAB_STATE/radvd.pid"
case "${1:-start}" in
  stop) lab_kill_pidfile "$pf"; exit 0 ;;
  start) ;;
  *) lab_die "usage: ra.sh start|stop" ;;
esac
command -v radvd >/dev/null || { lab_log "radvd not installed: iPXE will wait ~13 s for IPv6 on every boot"; exit 0; }
lab_pid_alive "$pf" && exit 0
ip6=$(cat "$CBLAB_STATE/server-ip6" 2>/dev/null || echo "$CBLAB_SERVER_IP6")
prefix="${ip6%::*}::/64"
cat > "$CBLAB_STATE/radvd.conf" <<EOC
interface $CBLAB_BR {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 10;
  AdvDefaultLifetime 0;
  prefix $prefix { AdvOnLink on; AdvAutonomous on; };
};
EOC
lab_ns sysctl -qw net.ipv6.conf.all.forwarding=1 >/dev/null   # radvd refuses to run otherwise
lab_ns radvd -C "$CBLAB_STATE/radvd.conf" -p "$pf" -m logfile -l "$CBLAB_STATE/radvd.log" -u root
for _ in $(seq 1 20); do lab_pid_alive "$pf" && break; sleep 0.1; done
lab_pid_alive "$pf" || lab_die "radvd did not start (see $CBLAB_STATE/radvd.log)"
lab_log "router advertisements for $prefix on $CBLAB_BR (radvd pid $(cat "$pf"))"
