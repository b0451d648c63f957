# Crowbar: kickstart for {{node}} ({{os.name}}), rendered by the provisioner barclamp.
# Anaconda fetches this once with a short-lived per-node token; it holds no password.
text
lang en_US.UTF-8
keyboard --vckeymap=us
timezone {{timezone}} --utc --ntpservers={{ntp_servers|join:,}}
url --url={{repo.url}}BaseOS
repo --name=AppStream --baseurl={{repo.url}}AppStream
network --bootproto=static --device={{mac}} --ip={{net.address}} --netmask={{net.netmask}}{{#if net.has_gateway}} --gateway={{net.gateway}}{{/if}} --nameserver={{dns_servers|join:,}} --hostname={{fqdn}} --activate
rootpw --lock
{{#each ssh_keys as k}}
sshkey --username=root {{k|sh}}
{{/each}}
selinux --enforcing
firewall --enabled --ssh
services --enabled=chronyd,sshd
ignoredisk --only-use={{disks.names|join:,}}
zerombr
clearpart --all --initlabel --drives={{disks.names|join:,}}
bootloader --boot-drive={{disks.first}}
{{#if disks.raid1}}
reqpart
part raid.11 --size=1024 --ondisk={{disks.first}}
part raid.12 --size=1024 --ondisk={{disks.second}}
part raid.21 --size=1 --grow --ondisk={{disks.first}}
part raid.22 --size=1 --grow --ondisk={{disks.second}}
raid /boot --level=1 --device=boot --fstype=xfs raid.11 raid.12
raid pv.01 --level=1 --device=pv00 raid.21 raid.22
{{else}}
reqpart --add-boot
part pv.01 --size=1 --grow --ondisk={{disks.first}}
{{/if}}
volgroup vg0 pv.01
logvol / --vgname=vg0 --name=root --fstype=xfs --size=1 --grow
reboot

%packages
@^minimal-environment
chrony
curl
tar
%end

%post --log=/root/crowbar-post-install.log
set -e
curl -fsS --retry 5 -o /root/crowbar-post-install.sh {{urls.post|sh}}
sh /root/crowbar-post-install.sh
%end
