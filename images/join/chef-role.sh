#!/bin/sh
# Crowbar: run one Chef role of this node's run list with chef-solo (or
# cinc-solo). Usage: chef-role.sh ROLE-ENTRY.json
#
# ROLE-ENTRY.json is one entry of GET /api/v1/nodes/<node>/runlist (barclamp,
# proposal, role, chef.recipes, chef.cookbooks.sha256). The script fetches,
# with the node's own credential (/etc/crowbar/node.token):
#   .../chef/<barclamp>/<proposal>/<role>/node.json         Chef node object (name, chef_environment, normal, run_list)
#   .../chef/<barclamp>/<proposal>/<role>/environment.json  the proposal's Chef environment
#   .../chef/<barclamp>/<proposal>/<role>/solo.rb           chef-solo configuration (paths below)
#   .../chef/<barclamp>/<proposal>/<role>/cookbooks.tar.gz  the barclamp's cookbook archive (sha256 checked)
# lays them out under $CB_CHEF_ROOT (default /var/lib/crowbar/chef/<barclamp>/<proposal>/<role>)
# and runs `chef-solo -c solo.rb`: local mode loads the node object (its run_list and normal
# attributes) from nodes/, the environment from environments/, cookbooks from cookbooks/.
# The site provides chef-solo (Chef Infra Client >= 14) or cinc-solo on the installed OS.
set -eu
entry="${1:?usage: chef-role.sh ROLE-ENTRY.json}"
conf="${CROWBAR_CONF:-/etc/crowbar/node.conf}"
tokfile="${CROWBAR_TOKEN_FILE:-/etc/crowbar/node.token}"
[ -r "$conf" ] && . "$conf"
: "${CROWBAR_URL:?CROWBAR_URL unset (from $conf)}" "${CROWBAR_NODE:?CROWBAR_NODE unset (from $conf)}"
token=$(cat "$tokfile")

# The entry's names are [A-Za-z0-9_-] (barclamp and proposal names); take the first of each key.
field() { grep -o "\"$1\": *\"[A-Za-z0-9_.-]*\"" "$entry" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/'; }
bc=$(field barclamp); proposal=$(field proposal); role=$(field role)
[ -n "$bc" ] && [ -n "$proposal" ] && [ -n "$role" ] || { echo "chef-role: $entry is not a run-list entry" >&2; exit 2; }
sha=$(tr -d '\n' < "$entry" | grep -o '"cookbooks": *{[^}]*}' | grep -o '[0-9a-f]\{64\}' | head -n 1)
[ -n "$sha" ] || { echo "chef-role: $entry has no chef.cookbooks.sha256 (not a Chef role)" >&2; exit 2; }

root="${CB_CHEF_ROOT:-/var/lib/crowbar/chef/$bc/$proposal/$role}"
base="$CROWBAR_URL/api/v1/nodes/$CROWBAR_NODE/chef/$bc/$proposal/$role"
umask 077
mkdir -p "$root/nodes" "$root/environments" "$root/cache"
# the token reaches curl through a 0600 header file (umask 077 above), never on its command line
printf 'Authorization: Bearer %s\n' "$token" > "$root/.auth"
trap 'rm -f "$root/.auth"' EXIT
get() { curl -fsS --retry 3 -H @"$root/.auth" -o "$2" "$base/$1"; }
get node.json "$root/nodes/$CROWBAR_NODE.json"
env=$(grep -o '"chef_environment": *"[A-Za-z0-9_.-]*"' "$root/nodes/$CROWBAR_NODE.json" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/')
[ -n "$env" ] || { echo "chef-role: node.json names no chef_environment" >&2; exit 1; }
get environment.json "$root/environments/$env.json"
get solo.rb "$root/solo.rb"
get cookbooks.tar.gz "$root/cookbooks.tar.gz"
echo "$sha  $root/cookbooks.tar.gz" | sha256sum -c - >/dev/null || { echo "chef-role: cookbook archive does not match sha256 $sha" >&2; exit 1; }
# The archive holds cookbooks/<cookbook>/... (the barclamp's chef/cookbooks directory).
rm -rf "$root/cookbooks"
tar -xzf "$root/cookbooks.tar.gz" -C "$root"
if [ -n "${CB_CHEF_DRY_RUN:-}" ]; then echo "chef-role: prepared $root"; exit 0; fi
solo=$(command -v chef-solo || command -v cinc-solo || true)
[ -n "$solo" ] || { echo "chef-role: neither chef-solo nor cinc-solo is installed (the site provides Chef Infra Client >= 14 or Cinc)" >&2; exit 3; }
cd "$root"
exec "$solo" -c "$root/solo.rb"
