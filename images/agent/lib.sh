#!/bin/sh
# Helpers shared by the agent scripts (sourced). Everything here must be
# safe under busybox ash: no bashisms, no `set -e`.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
AGENT_LOG=/run/agent.log

# say MESSAGE: to the serial console and to the agent log (shipped to the appliance)
say() {
  _m="[crowbar-agent $(cut -d' ' -f1 /proc/uptime)] $*"
  echo "$_m" > /dev/console
  echo "$_m" >> "$AGENT_LOG"
}

# arg NAME: value of NAME=... on the kernel command line (empty if absent)
arg() {
  for _a in $(cat /proc/cmdline); do
    case "$_a" in "$1="*) echo "${_a#*=}"; return 0 ;; esac
  done
  return 0
}

# json_str KEY FILE / json_num KEY FILE: a top-level field of a flat JSON reply
json_str() { sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" "$2" | head -1; }
json_num() { sed -n "s/.*\"$1\" *: *\\([0-9][0-9]*\\).*/\\1/p" "$2" | head -1; }

# http METHOD PATH [BODY_FILE [CONTENT_TYPE]]: request $CROWBAR_URL$PATH, with the
# node token when we have one. Body of the reply in /tmp/http.body, status in
# HTTP_CODE (000 = no answer). Returns wget's exit code.
# NB: busybox-static `wget -T` segfaults (Debian 1.35); `timeout` bounds the call.
http() {
  _method=$1; _path=$2; _body=$3; _ct=${4:-application/json}
  rm -f /tmp/http.body /tmp/http.err
  if [ "$_method" = POST ]; then
    if [ -n "$TOKEN" ]; then
      timeout 30 wget -q -S -O /tmp/http.body --header "Authorization: Bearer $TOKEN" \
        --header "Content-Type: $_ct" --post-file "$_body" "$CROWBAR_URL$_path" 2>/tmp/http.err
    else
      timeout 30 wget -q -S -O /tmp/http.body --header "Content-Type: $_ct" \
        --post-file "$_body" "$CROWBAR_URL$_path" 2>/tmp/http.err
    fi
  else
    if [ -n "$TOKEN" ]; then
      timeout 30 wget -q -S -O /tmp/http.body --header "Authorization: Bearer $TOKEN" "$CROWBAR_URL$_path" 2>/tmp/http.err
    else
      timeout 30 wget -q -S -O /tmp/http.body "$CROWBAR_URL$_path" 2>/tmp/http.err
    fi
  fi
  _rc=$?
  HTTP_CODE=$(grep -o 'HTTP/1\.[01] [0-9][0-9][0-9]' /tmp/http.err 2>/dev/null | tail -1 | cut -d' ' -f2)
  [ -n "$HTTP_CODE" ] || HTTP_CODE=000
  touch /tmp/http.body
  return $_rc
}

# ship_log: send the agent log lines not sent yet (at most 32 KiB per call)
ship_log() {
  [ -n "$TOKEN" ] || return 0
  _sent=$(cat /run/log.sent 2>/dev/null); _sent=${_sent:-0}
  _size=$(wc -c < "$AGENT_LOG" 2>/dev/null); _size=${_size:-0}
  [ "$_size" -gt "$_sent" ] || return 0
  tail -c +"$((_sent + 1))" "$AGENT_LOG" | head -c 32768 > /tmp/log.chunk
  _n=$(wc -c < /tmp/log.chunk)
  if http POST /api/v1/agent/log /tmp/log.chunk text/plain; then
    echo $((_sent + _n)) > /run/log.sent
  fi
}
