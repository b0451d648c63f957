#!/usr/bin/env bash
# Create the lab's isolated admin network:
#   netns $CBLAB_NS: bridge $CBLAB_BR with the appliance address $CBLAB_SERVER_IP/24
#     (+ an IPv6 ULA for router advertisements); VM taps are added by vm.sh
#   netns $CBLAB_BMC_NS: the BMC simulators' addresses on a veth that is a bridge port,
#     so IPMI from the appliance really crosses the admin segment
#   with CBLAB_HOST_VETH=1: a veth from this host into $CBLAB_NS
#     ($CBLAB_HOST_IP <-> $CBLAB_HOST_PEER_IP, /30) so a browser on the host reaches the console
# No uplink, no default route, no NAT. Idempotent.
source "$(dirname "$0")/lib.sh"
lab_need_root
lab_ns_exists "$CBLAB_NS" || ip netns add "$CBLAB_NS"
lab_ns_exists "$CBLAB_BMC_NS" || ip netns add "$CBLAB_BMC_NS"
for ns in "$CBLAB_NS" "$CBLAB_BMC_NS"; do
  ip -n "$ns" link set lo up
  # no SLAAC/RA processing inside the lab namespaces themselves
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv6.conf.all.autoconf=0 net.ipv6.conf.default.autoconf=0 >/dev/null 2>&1 || true
done
if ! ip -n "$CBLAB_NS" link show "$CBLAB_BR" >/dev/null 2>&1; then
  ip -n "$CBLAB_NS" link add "$CBLAB_BR" type bridge stp_state 0 forward_delay 0
fi
ip -n "$CBLAB_NS" link set "$CBLAB_BR" up
ip -n "$CBLAB_NS" addr replace "$CBLAB_SERVER_IP/24" dev "$CBLAB_BR"
ip -n "$CBLAB_NS" -6 addr replace "$CBLAB_SERVER_IP6/64" dev "$CBLAB_BR" nodad
# A route for the limited broadcast 255.255.255.255 through the bridge: without a default
# route, a socket bound to 0.0.0.0 (Node has no SO_BINDTODEVICE) gets ENETUNREACH sending to
# 255.255.255.255, which DHCP replies to broadcast-flagged requests need (RFC 2131 §4.1;
# OVMF's own PXE client accepts nothing else before it has an address).
ip -n "$CBLAB_NS" route replace broadcast 255.255.255.255 dev "$CBLAB_BR" src "$CBLAB_SERVER_IP" table local 2>/dev/null ||
  ip -n "$CBLAB_NS" route replace 255.255.255.255/32 dev "$CBLAB_BR" src "$CBLAB_SERVER_IP"
if ! ip -n "$CBLAB_BMC_NS" link show bmc0 >/dev/null 2>&1; then
  ip -n "$CBLAB_NS" link add bmc0p type veth peer name bmc0 netns "$CBLAB_BMC_NS"
  ip -n "$CBLAB_NS" link set bmc0p master "$CBLAB_BR" up
  ip -n "$CBLAB_BMC_NS" link set bmc0 up
fi
if [[ "${CBLAB_HOST_VETH:-0}" == 1 ]]; then
  hv="cbl-${CBLAB_NAME:0:8}"
  if ! ip link show "$hv" >/dev/null 2>&1; then
    ip link add "$hv" type veth peer name host0 netns "$CBLAB_NS"
  fi
  ip addr replace "$CBLAB_HOST_IP/30" dev "$hv"
  ip link set "$hv" up
  ip -n "$CBLAB_NS" addr replace "$CBLAB_HOST_PEER_IP/30" dev host0
  ip -n "$CBLAB_NS" link set host0 up
fi
mkdir -p "$CBLAB_STATE"
echo "$CBLAB_SERVER_IP6" > "$CBLAB_STATE/server-ip6"
lab_log "lab $CBLAB_NAME up: netns $CBLAB_NS bridge $CBLAB_BR $CBLAB_SERVER_IP/24 $CBLAB_SERVER_IP6/64, BMC netns $CBLAB_BMC_NS"
