#!/bin/sh
# Crowbar: post-install step for {{node}} ({{os.name}}), run inside the installed system.
# It fetches the node's long-lived credential once (written 0600), installs the
# join agent, and reports `installed`. The install token in these URLs expires
# on its own; it is not a credential of the installed system.
set -eu
umask 077
mkdir -p /etc/crowbar /opt/crowbar
curl -fsS --retry 5 -o /etc/crowbar/node.token.new {{urls.join_token|sh}}
chmod 600 /etc/crowbar/node.token.new
mv /etc/crowbar/node.token.new /etc/crowbar/node.token
cat > /etc/crowbar/node.conf <<'CROWBAR_EOF'
CROWBAR_NODE={{node}}
CROWBAR_URL={{appliance_url}}
CROWBAR_OS={{os.name}}
CROWBAR_EOF
chmod 644 /etc/crowbar/node.conf
{{#if ssh_keys}}
mkdir -p /root/.ssh
chmod 700 /root/.ssh
{{#each ssh_keys as k}}
echo {{k|sh}} >> /root/.ssh/authorized_keys
{{/each}}
chmod 600 /root/.ssh/authorized_keys
{{/if}}
curl -fsS --retry 5 -o /opt/crowbar/join.tar.gz {{urls.join_bundle|sh}}
rm -rf /opt/crowbar/join
mkdir -p /opt/crowbar/join
tar -xzf /opt/crowbar/join.tar.gz -C /opt/crowbar/join
rm -f /opt/crowbar/join.tar.gz
chmod 755 /opt/crowbar/join
for f in /opt/crowbar/join/*.sh /opt/crowbar/join/crowbar-join; do [ -f "$f" ] && chmod 755 "$f"; done
for u in /opt/crowbar/join/*.service; do
  [ -f "$u" ] || continue
  install -m 644 "$u" /etc/systemd/system/
  systemctl enable "$(basename "$u")"
done
curl -fsS --retry 5 -X POST -o /dev/null {{urls.installed|sh}}
