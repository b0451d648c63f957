# shellcheck shell=bash
# Shared steps of the initramfs builds (images/build-discovery.sh, images/iso/build-installer.sh).
# Sourced; the caller defines log().

# initramfs_modules ROOT KVER MODROOT MODULE...
# Copies the named kernel modules of MODROOT (an unpacked /lib/modules/<kver>) into
# ROOT/lib/modules/KVER with their dependencies first (modinfo -F depends), decompressing
# .ko.xz/.ko.zst, and writes the load order to load.order. Built-in and missing modules
# are skipped (missing ones are logged).
initramfs_modules() {
  local R=$1 kver=$2 mroot=$3 f b m
  shift 3
  local -A KO=() SEEN=()
  local BUILTIN ORDER=()
  while IFS= read -r f; do b=${f##*/}; b=${b%%.ko*}; KO[${b//-/_}]=$f; done < <(find "$mroot/kernel" -name '*.ko*')
  BUILTIN=" $(sed -e 's#.*/##' -e 's/\.ko$//' -e 's/-/_/g' "$mroot/modules.builtin" 2>/dev/null | tr '\n' ' ') "
  _initramfs_visit() {
    local m=$1 d
    [[ -n "${SEEN[$m]:-}" ]] && return 0
    SEEN[$m]=1
    [[ "$BUILTIN" == *" $m "* ]] && return 0
    if [[ -z "${KO[$m]:-}" ]]; then log "module $m not found for $kver, skipped"; return 0; fi
    for d in $(modinfo -F depends "${KO[$m]}" | tr ',' ' '); do _initramfs_visit "${d//-/_}"; done
    ORDER+=("$m")
  }
  for m in "$@"; do _initramfs_visit "$m"; done
  mkdir -p "$R/lib/modules/$kver"
  for m in "${ORDER[@]}"; do
    case "${KO[$m]}" in
      *.ko.xz) xz -dc "${KO[$m]}" > "$R/lib/modules/$kver/$m.ko" ;;
      *.ko.zst) zstd -qdc "${KO[$m]}" > "$R/lib/modules/$kver/$m.ko" ;;
      *) cp "${KO[$m]}" "$R/lib/modules/$kver/$m.ko" ;;
    esac
  done
  printf '%s\n' "${ORDER[@]}" > "$R/lib/modules/$kver/load.order"
  log "modules: ${ORDER[*]}"
}

# initramfs_tools ROOT TOOL...
# Copies each tool (absolute path) into ROOT at the same path, with the shared libraries
# ldd reports on this Debian system.
initramfs_tools() {
  local R=$1 t lib
  shift
  for t in "$@"; do
    cp "$t" "$R$t"
    for lib in $(ldd "$t" | awk '/=>/ && $3 ~ /^\// {print $3} /^[ \t]*\// {print $1}'); do
      [[ -e "$R$lib" ]] && continue
      mkdir -p "$R$(dirname "$lib")"
      cp -L "$lib" "$R$lib"
    done
  done
}
