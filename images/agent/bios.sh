# Crowbar hardware-install: BIOS/UEFI settings (busybox sh; sourced by
# hardware-install.sh, which provides log/run/fail).
#
#   bios_apply "KEY=value KEY=value ..." [TOOL]
#   sets BIOS to ok | partial (some settings unsupported here, reported) | failed
#
# What the platform exposes, per key (docs/ipmi.md "BIOS settings"):
#   BootMode=Uefi|Legacy    checked against the running firmware (/sys/firmware/efi);
#                           changing it needs TOOL (vendor) — otherwise unsupported
#   UefiBootOrder=CLASS,... UEFI only, efibootmgr: Boot#### entries of the listed classes
#                           (network, disk, cdrom, shell) first, in that order, the rest after
#   UefiBootTimeout=N       UEFI only, efibootmgr -t N
#   anything else           TOOL set KEY VALUE (vendor tool in the image, e.g. a wrapper
#                           around syscfg/racadm/conrep), else unsupported
# Commands: EFIBOOTMGR (default efibootmgr); EFI_DIR (default /sys/firmware/efi).

# class of a UEFI boot entry from its description
bios_entry_class() {
  case "$1" in
    *PXE*|*[Nn]etwork*|*HTTP*|*IPv4*|*IPv6*|*NIC*) echo network ;;
    *CD*|*DVD*) echo cdrom ;;
    *[Ss]hell*) echo shell ;;
    *[Hh]ard*[Dd]rive*|*HDD*|*SSD*|*NVMe*|*SATA*|*SCSI*|*[Dd]isk*|*[Mm]isc*[Dd]evice*|*virtio*) echo disk ;;
    *) echo other ;;
  esac
}

bios_mount_efivars() {
  [ -d "$EFI_DIR/efivars" ] || return 0
  ls "$EFI_DIR/efivars" 2>/dev/null | grep -q . && return 0
  mount -t efivarfs efivarfs "$EFI_DIR/efivars" 2>/dev/null || true
}

# UefiBootOrder=network,disk -> efibootmgr -o
bios_boot_order() {
  want=$(echo "$1" | tr ',' ' ')
  for c in $want; do
    case "$c" in network|disk|cdrom|shell) ;; *) fail "UefiBootOrder: unknown class $c (network, disk, cdrom, shell)"; return 1 ;; esac
  done
  "$EFIBOOTMGR" > /tmp/efiboot.before 2>&1 || { fail "efibootmgr cannot read the boot entries"; return 1; }
  cur=$(sed -n 's/^BootOrder: //p' /tmp/efiboot.before | tr ',' ' ')
  log "bios: BootOrder before: $(echo $cur | tr ' ' ,)"
  new=""
  for c in $want; do
    for n in $cur; do
      desc=$(sed -n "s/^Boot$n[* ] //p" /tmp/efiboot.before | head -1)
      [ "$(bios_entry_class "$desc")" = "$c" ] && new="$new $n"
    done
  done
  for n in $cur; do case " $new " in *" $n "*) ;; *) new="$new $n" ;; esac; done
  order=$(echo $new | tr ' ' ,)
  [ -n "$order" ] || { fail "no UEFI boot entries"; return 1; }
  run "$EFIBOOTMGR" -o "$order" > /dev/null || { fail "efibootmgr -o $order failed"; return 1; }
  [ "${DRY_RUN:-0}" = 1 ] && return 0
  got=$("$EFIBOOTMGR" 2>/dev/null | sed -n 's/^BootOrder: //p')
  [ "$got" = "$order" ] || { fail "BootOrder reads back $got, wanted $order"; return 1; }
  log "bios: BootOrder after: $got"
  "$EFIBOOTMGR" 2>/dev/null | grep -E '^Boot[0-9A-F]{4}' | sed 's/^/[hardware-install] bios:   /' >&2
}

bios_apply() {
  settings=$1; tool=${2:-}
  EFIBOOTMGR=${EFIBOOTMGR:-efibootmgr}; EFI_DIR=${EFI_DIR:-/sys/firmware/efi}
  BIOS=ok
  mode=Legacy; [ -d "$EFI_DIR" ] && mode=Uefi
  [ "$mode" = Uefi ] && bios_mount_efivars
  log "bios: firmware boot mode $mode${tool:+, vendor tool $tool}"
  for kv in $settings; do
    k=${kv%%=*}; v=${kv#*=}
    case "$k" in
      BootMode)
        if [ "$(echo "$v" | tr A-Z a-z)" = "$(echo "$mode" | tr A-Z a-z)" ]; then log "bios: BootMode=$v (already)"
        elif [ -n "$tool" ]; then run "$tool" set "$k" "$v" || { BIOS=failed; fail "$tool set $k failed"; }
        else log "bios: BootMode=$v unsupported here: the machine runs $mode; changing it needs the vendor tool or Redfish"; [ "$BIOS" = ok ] && BIOS=partial; fi ;;
      UefiBootOrder|UefiBootTimeout)
        if [ "$mode" != Uefi ]; then log "bios: $k unsupported: the machine boots in Legacy mode"; [ "$BIOS" = ok ] && BIOS=partial
        elif [ "$k" = UefiBootOrder ]; then bios_boot_order "$v" || BIOS=failed
        else
          case "$v" in ''|*[!0-9]*) BIOS=failed; fail "UefiBootTimeout must be a number" ;; *) run "$EFIBOOTMGR" -t "$v" > /dev/null || { BIOS=failed; fail "efibootmgr -t failed"; } ;; esac
        fi ;;
      *)
        if [ -n "$tool" ]; then log "bios: $tool set $k $v"; run "$tool" set "$k" "$v" || { BIOS=failed; fail "$tool set $k failed"; }
        else log "bios: $k=$v unsupported here (no vendor tool in the bios proposal)"; [ "$BIOS" = ok ] && BIOS=partial; fi ;;
    esac
  done
}
