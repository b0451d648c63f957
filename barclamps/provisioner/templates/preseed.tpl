# Crowbar: debian-installer preseed (Debian, and Ubuntu before 20.04) for {{node}} ({{os.name}}), rendered by the provisioner barclamp.
# debian-installer fetches this once with a short-lived per-node token; it holds no password.
# The address is the node's DHCP reservation ({{net.address}}); hostname and domain are on the kernel command line.
d-i debian-installer/locale string en_US.UTF-8
d-i keyboard-configuration/xkb-keymap select us
d-i netcfg/choose_interface select auto
d-i netcfg/get_hostname string {{hostname}}
d-i netcfg/get_domain string {{domain}}
d-i netcfg/hostname string {{hostname}}
d-i hw-detect/load_firmware boolean false
d-i mirror/country string manual
d-i mirror/protocol string http
d-i mirror/http/hostname string {{repo.host}}
d-i mirror/http/directory string {{repo.path}}
d-i mirror/http/proxy string
d-i mirror/suite string {{os.codename}}
d-i apt-setup/services-select multiselect
d-i apt-setup/cdrom/set-first boolean false
d-i passwd/root-login boolean true
d-i passwd/root-password-crypted password !
d-i passwd/make-user boolean false
d-i clock-setup/utc boolean true
d-i time/zone string {{timezone}}
d-i clock-setup/ntp boolean true
d-i clock-setup/ntp-server string {{ntp_servers|join: }}
{{#if disks.raid1}}
d-i partman-auto/method string raid
d-i partman-auto/disk string /dev/{{disks.first}} /dev/{{disks.second}}
d-i partman-md/device_remove_md boolean true
d-i partman-md/confirm boolean true
d-i partman-md/confirm_nooverwrite boolean true
d-i partman-auto/expert_recipe string multiraid :: 1024 100 1024 raid $primary{ } method{ raid } . 1000 200 -1 raid method{ raid } .
d-i partman-auto-raid/recipe string 1 2 0 ext4 /boot {{disks.first_part}}1#{{disks.second_part}}1 . 1 2 0 ext4 / {{disks.first_part}}2#{{disks.second_part}}2 .
{{else}}
d-i partman-auto/method string regular
d-i partman-auto/disk string /dev/{{disks.first}}
d-i partman-auto/choose_recipe select atomic
{{/if}}
d-i partman-lvm/device_remove_lvm boolean true
d-i partman-lvm/confirm boolean true
d-i partman-lvm/confirm_nooverwrite boolean true
d-i partman-partitioning/confirm_write_new_label boolean true
d-i partman/choose_partition select finish
d-i partman/confirm boolean true
d-i partman/confirm_nooverwrite boolean true
d-i partman-efi/non_efi_system boolean true
tasksel tasksel/first multiselect standard, ssh-server
d-i pkgsel/include string curl chrony ca-certificates
d-i pkgsel/upgrade select none
popularity-contest popularity-contest/participate boolean false
d-i grub-installer/only_debian boolean true
d-i grub-installer/bootdev string {{#if disks.raid1}}/dev/{{disks.first}} /dev/{{disks.second}}{{else}}/dev/{{disks.first}}{{/if}}
d-i finish-install/reboot_in_progress note
d-i preseed/late_command string in-target sh -c {{post_command|sh}}
