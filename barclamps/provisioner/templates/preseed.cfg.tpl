# Debian preseed fragment rendered by the provisioner for each node.
d-i debian-installer/locale string en_US.UTF-8
d-i time/zone string {{timezone}}
d-i mirror/http/hostname string {{mirror_host}}
d-i passwd/root-login boolean false
d-i preseed/late_command string in-target sh -c 'mkdir -p /etc/crowbar && echo CROWBAR_NODE={{node}} > /etc/crowbar/node.conf'
