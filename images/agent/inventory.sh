#!/bin/sh
# Print this machine's inventory as one JSON object on stdout:
#   inventory.sh BOOT_IFACE
# Fields (all from /proc, /sys, dmidecode and ipmitool; missing ones omitted
# or empty): cpu_count, cpu_model, memory_kb, disks[], nics[], dmi{}, firmware,
# bmc{}, kernel. Strings are JSON-escaped and cut to 200 characters.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
BOOT=${1:-}
esc() { printf '%s' "$1" | tr -d '\000-\037' | cut -c1-200 | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
rd() { cat "$1" 2>/dev/null | head -1; }
num() { case "$1" in ''|*[!0-9]*) echo "${2:-0}" ;; *) echo "$1" ;; esac; }

CPUS=$(num "$(grep -c '^processor' /proc/cpuinfo)" 1)
CPU_MODEL=$(esc "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')")
MEM_KB=$(num "$(awk '/^MemTotal:/{print $2}' /proc/meminfo)")

DISKS=""
for b in /sys/block/*; do
  [ -e "$b/size" ] || continue
  d=${b##*/}
  case "$d" in loop*|ram*|zram*|sr*|fd*|md*|dm-*|nbd*) continue ;; esac
  sectors=$(num "$(rd "$b/size")")
  [ "$sectors" -gt 0 ] || continue
  model=$(esc "$(rd "$b/device/model" | sed 's/ *$//')")
  serial=$(rd "$b/serial"); [ -n "$serial" ] || serial=$(rd "$b/device/serial")
  serial=$(esc "$(echo "$serial" | sed 's/^ *//; s/ *$//')")
  rot=$(num "$(rd "$b/queue/rotational")")
  DISKS="$DISKS${DISKS:+,}{\"name\":\"$(esc "$d")\",\"size_bytes\":$((sectors * 512)),\"model\":\"$model\",\"serial\":\"$serial\",\"rotational\":$rot}"
done

NICS=""
for n in /sys/class/net/*; do
  i=${n##*/}
  [ "$i" = lo ] && continue
  [ -e "$n/device" ] || continue            # physical NICs only (no bonds, bridges)
  mac=$(rd "$n/address")
  drv=$(basename "$(readlink "$n/device/driver" 2>/dev/null)" 2>/dev/null)
  speed=$(rd "$n/speed"); case "$speed" in ''|-*|*[!0-9]*) speed="" ;; esac
  carrier=$(num "$(rd "$n/carrier")")
  boot=false; [ "$i" = "$BOOT" ] && boot=true
  NICS="$NICS${NICS:+,}{\"name\":\"$(esc "$i")\",\"mac\":\"$(esc "$mac")\",\"driver\":\"$(esc "$drv")\"${speed:+,\"speed_mbps\":$speed},\"carrier\":$carrier,\"boot\":$boot}"
done

dmi() { esc "$(rd "/sys/class/dmi/id/$1" | sed 's/ *$//')"; }
DMI="\"sys_vendor\":\"$(dmi sys_vendor)\",\"product_name\":\"$(dmi product_name)\",\"product_version\":\"$(dmi product_version)\""
DMI="$DMI,\"product_serial\":\"$(dmi product_serial)\",\"product_uuid\":\"$(dmi product_uuid)\""
DMI="$DMI,\"board_vendor\":\"$(dmi board_vendor)\",\"board_name\":\"$(dmi board_name)\",\"board_serial\":\"$(dmi board_serial)\""
DMI="$DMI,\"chassis_serial\":\"$(dmi chassis_serial)\",\"bios_vendor\":\"$(dmi bios_vendor)\",\"bios_version\":\"$(dmi bios_version)\""

FW=bios; [ -d /sys/firmware/efi ] && FW=uefi

# In-band BMC: address and MAC of LAN channel 1 (when /dev/ipmi0 exists).
BMC=""
if [ -e /dev/ipmi0 ] && command -v ipmitool >/dev/null; then
  timeout 15 ipmitool lan print 1 > /tmp/lan.txt 2>/dev/null
  a=$(awk -F': *' '/^IP Address  /{print $2; exit}' /tmp/lan.txt)
  m=$(awk -F': *' '/^MAC Address /{print $2; exit}' /tmp/lan.txt)
  timeout 15 ipmitool mc info > /tmp/mc.txt 2>/dev/null
  mf=$(awk -F': *' '/^Manufacturer ID /{print $2; exit}' /tmp/mc.txt)
  pr=$(awk -F': *' '/^Product ID /{print $2; exit}' /tmp/mc.txt)
  BMC="\"present\":true,\"address\":\"$(esc "$a")\",\"mac\":\"$(esc "$m")\",\"manufacturer_id\":\"$(esc "$mf")\",\"product_id\":\"$(esc "$pr")\""
fi

printf '{"cpu_count":%s,"cpu_model":"%s","memory_kb":%s,"disks":[%s],"nics":[%s],"dmi":{%s},"firmware":"%s","bmc":{%s},"kernel":"%s"}\n' \
  "$CPUS" "$CPU_MODEL" "$MEM_KB" "$DISKS" "$NICS" "$DMI" "$FW" "$BMC" "$(esc "$(uname -r)")"
