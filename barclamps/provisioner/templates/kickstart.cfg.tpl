# RHEL-family kickstart fragment rendered by the provisioner for each node.
lang en_US.UTF-8
timezone {{timezone}} --utc
rootpw --lock
%post
mkdir -p /etc/crowbar && echo CROWBAR_NODE={{node}} > /etc/crowbar/node.conf
%end
