#!/bin/sh
# Crowbar script role provisioner-base (barclamp provisioner). Run by the node agent as root
# with the run-list environment (CB_NODE, CB_ROLE, CB_ATTR_*, CB_PEERS_*,
# CB_NET_*); CB_ROOT prefixes every path written (tests use a scratch dir).
set -eu
R="${CB_ROOT:-}"
mkdir -p "$R/root/.ssh" "$R/etc/apt/sources.list.d"
chmod 700 "$R/root/.ssh"
keys="$R/root/.ssh/authorized_keys"
touch "$keys"; chmod 600 "$keys"
# Keep the operator's own keys; replace only Crowbar's block.
sed -i '/# crowbar-begin/,/# crowbar-end/d' "$keys"
echo "# crowbar-begin" >> "$keys"
printf '%s\n' "${CB_ATTR_ACCESS_KEYS:-}" | tr '|' '\n' | grep -v '^$' >> "$keys" || true
echo "# crowbar-end" >> "$keys"
if [ -n "$CB_ATTR_MIRROR" ]; then
  echo "deb $CB_ATTR_MIRROR $CB_ATTR_SUITE main" > "$R/etc/apt/sources.list.d/crowbar.list"
fi
echo "provisioner-base: keys and mirror set"
