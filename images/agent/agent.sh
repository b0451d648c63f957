#!/bin/sh
# Crowbar discovery agent (run by /init, busybox sh):
#  1. load the NIC/disk/IPMI modules, find the boot NIC (BOOTIF=01-aa-bb-.. from
#     iPXE), get a DHCP lease on it;
#  2. collect the inventory (inventory.sh) and POST it to
#     $crowbar.url/api/v1/discovery; the reply carries the node name and a
#     random per-node token (kept in RAM only);
#  3. ask GET /api/v1/agent/next what to do, with the token, until told to
#     reboot or power off: wait (not allocated yet), hardware-install (post
#     the begin transition, run /agent/hardware-install.sh when the image has
#     it, post the end transition), image-install (image-install.sh, then
#     post installed and reboot to disk), reboot, poweroff;
#  4. ship its own log to POST /api/v1/agent/log along the way.
# The final action is written to /run/agent.action for /init.
. /agent/lib.sh
TOKEN=""
NODE=""
decide() { echo "$1" > /run/agent.action; }

CROWBAR_URL=$(arg crowbar.url)
CROWBAR_URL=${CROWBAR_URL%/}
BOOTIF=$(arg BOOTIF)
say "start: kernel $(uname -r), url=$CROWBAR_URL bootif=$BOOTIF"
if [ -z "$CROWBAR_URL" ]; then
  say "no crowbar.url= on the kernel command line; nothing to register with"
  decide poweroff; exit 0
fi

# 1. modules (dependency order computed at build time)
for m in $(cat /lib/modules/*/load.order 2>/dev/null); do
  insmod /lib/modules/*/"$m.ko" 2>/dev/null
done
mdev -s 2>/dev/null

# boot NIC: BOOTIF (01-aa-bb-cc-dd-ee-ff or a plain MAC) first, then the others
want=$(echo "$BOOTIF" | tr 'A-F' 'a-f' | sed -e 's/^01-//' -e 's/-/:/g')
find_ifaces() {
  _first=""; _rest=""
  for n in /sys/class/net/*; do
    i=${n##*/}; [ "$i" = lo ] && continue
    [ -e "$n/device" ] || continue
    if [ -n "$want" ] && [ "$(cat "$n/address")" = "$want" ]; then _first=$i; else _rest="$_rest $i"; fi
  done
  echo "$_first $_rest"
}
ifaces=$(find_ifaces)
tries=0
while [ -z "$(echo $ifaces)" ] && [ $tries -lt 20 ]; do sleep 0.5; tries=$((tries + 1)); ifaces=$(find_ifaces); done
IFACE=""
for round in 1 2 3; do
  for i in $ifaces; do
    ip link set "$i" up
    say "dhcp on $i ($(cat /sys/class/net/$i/address))"
    rm -f /run/lease.env
    # stays in the background after the lease (-b) to renew it
    udhcpc -i "$i" -b -t 8 -T 2 -A 3 -p "/run/udhcpc.$i.pid" -s /agent/udhcpc.sh \
      -V crowbar-discovery -x hostname:crowbar-discovery >/dev/null 2>&1
    if [ -f /run/lease.env ]; then IFACE=$i; break 2; fi
    [ -f "/run/udhcpc.$i.pid" ] && kill "$(cat "/run/udhcpc.$i.pid")" 2>/dev/null
  done
  say "no DHCP lease on:$ifaces (round $round)"
  sleep 5
done
if [ -z "$IFACE" ]; then decide poweroff; exit 0; fi
. /run/lease.env
MAC=$(cat /sys/class/net/$IFACE/address)
say "lease $LEASE_IP on $IFACE ($MAC) from $LEASE_SERVER"

# 2. inventory + registration
/bin/sh /agent/inventory.sh "$IFACE" > /run/inventory.json 2>>"$AGENT_LOG"
printf '{"mac":"%s","inventory":' "$MAC" > /run/register.json
cat /run/inventory.json | tr -d '\n' >> /run/register.json
echo '}' >> /run/register.json
say "inventory: $(wc -c < /run/register.json) bytes: $(head -c 600 /run/inventory.json)"

register() {
  TOKEN=""
  n=0
  while :; do
    n=$((n + 1))
    if http POST /api/v1/discovery /run/register.json; then
      TOKEN=$(json_str token /tmp/http.body)
      NODE=$(json_str node /tmp/http.body)
      if [ -n "$TOKEN" ]; then
        say "REGISTERED as $NODE (state $(json_str state /tmp/http.body), admin address $(json_str admin_address /tmp/http.body))"
        return 0
      fi
      say "registration reply without a token: $(head -c 300 /tmp/http.body)"
    else
      say "registration attempt $n: HTTP $HTTP_CODE $(head -c 200 /tmp/http.err | tr '\n' ' ')"
    fi
    case "$HTTP_CODE" in
      409|403) [ $n -ge 20 ] && { say "registration refused $n times; giving up"; return 1; }; sleep 30 ;;
      400|413) say "registration rejected as invalid; giving up"; return 1 ;;
      429) sleep 10 ;;
      *) [ $n -ge 200 ] && return 1; sleep 3 ;;
    esac
  done
}
if ! register; then decide poweroff; exit 0; fi
ship_log

# post_transition STATE [REASON]
post_transition() {
  if [ -n "$2" ]; then
    printf '{"to":"%s","reason":"%s"}' "$1" "$(printf '%s' "$2" | tr -d '"\\\000-\037' | cut -c1-500)" > /tmp/tr.json
  else
    printf '{"to":"%s"}' "$1" > /tmp/tr.json
  fi
  if http POST /api/v1/agent/transition /tmp/tr.json; then say "transition -> $1"; return 0; fi
  say "transition -> $1 failed: HTTP $HTTP_CODE"
  return 1
}

hardware_install() {
  begin=$(json_str begin /tmp/next.json); end=$(json_str end /tmp/next.json); state=$(json_str state /tmp/next.json)
  [ -n "$begin" ] || begin=hardware-installing
  [ -n "$end" ] || end=hardware-installed
  if [ "$state" != "$begin" ]; then post_transition "$begin" || return 1; fi
  if [ -x /agent/hardware-install.sh ]; then
    say "running hardware-install steps"
    CROWBAR_URL=$CROWBAR_URL CROWBAR_TOKEN=$TOKEN CROWBAR_NODE=$NODE \
      /bin/sh /agent/hardware-install.sh > /tmp/hw.out 2>> "$AGENT_LOG"
    rc=$?
    cat /tmp/hw.out >> "$AGENT_LOG"
    ship_log
    if [ $rc -ne 0 ]; then
      post_transition problem "hardware-install failed (status $rc): $(json_str error /tmp/hw.out)"
      return 1
    fi
  else
    say "this image has no hardware-install steps"
  fi
  post_transition "$end"
}

# Image-based install (docs/image-install.md): write the root image, then reboot to disk.
image_install() {
  state=$(json_str state /tmp/next.json)
  if [ "$state" != installing ]; then post_transition installing || return 1; fi
  say "image install of $(json_str os /tmp/next.json)"
  ship_log
  rm -f /run/agent.token
  CROWBAR_URL=$CROWBAR_URL TOKEN=$TOKEN NODE=$NODE MAC=$MAC \
    /bin/sh /agent/image-install.sh > /tmp/img.out 2>> "$AGENT_LOG"
  rc=$?
  # the install swapped our token for the join token it wrote to disk: go on with it
  [ -s /run/agent.token ] && TOKEN=$(cat /run/agent.token)
  cat /tmp/img.out >> "$AGENT_LOG"
  ship_log
  if [ $rc -ne 0 ]; then
    post_transition problem "image install failed (status $rc): $(sed -n 's/^error: //p' /tmp/img.out | tail -1)"
    return 1
  fi
  post_transition installed || return 1
  ship_log
  decide reboot
  return 0
}

# 3. follow the appliance
fails=0
while :; do
  ship_log
  if http GET /api/v1/agent/next; then
    fails=0
    cp /tmp/http.body /tmp/next.json
    action=$(json_str action /tmp/next.json)
    interval=$(json_num interval /tmp/next.json); interval=${interval:-5}
    case "$action" in
      wait) sleep "$interval" ;;
      hardware-install) hardware_install || sleep "$interval" ;;
      image-install) if image_install; then say "installed; rebooting to disk"; exit 0; fi; sleep "$interval" ;;
      reboot) say "appliance says: reboot ($(json_str state /tmp/next.json))"; ship_log; decide reboot; exit 0 ;;
      poweroff) say "appliance says: power off"; ship_log; decide poweroff; exit 0 ;;
      *) say "unknown action '$action'"; sleep "$interval" ;;
    esac
  else
    case "$HTTP_CODE" in
      401) say "token refused; registering again"; register || { decide poweroff; exit 0; } ;;
      *) fails=$((fails + 1)); say "agent/next failed (HTTP $HTTP_CODE, $fails)"; sleep 5 ;;
    esac
  fi
done
