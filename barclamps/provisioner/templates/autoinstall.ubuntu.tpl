#cloud-config
# Crowbar: subiquity autoinstall for {{node}} ({{os.name}}), rendered by the provisioner barclamp.
# Fetched once over NoCloud with a short-lived per-node token; it holds no password.
autoinstall:
  version: 1
  locale: en_US.UTF-8
  keyboard:
    layout: us
  timezone: {{timezone}}
  refresh-installer:
    update: false
  network:
    version: 2
    ethernets:
      admin:
        match:
          macaddress: {{mac}}
        addresses:
          - {{net.cidr}}
{{#if net.has_gateway}}
        routes:
          - to: default
            via: {{net.gateway}}
{{/if}}
        nameservers:
          search:
            - {{domain}}
          addresses:
{{#each dns_servers as s}}
            - {{s}}
{{/each}}
  apt:
    preserve_sources_list: false
    geoip: false
    primary:
      - arches: [default]
        uri: {{repo.url}}
    fallback: offline-install
  storage:
{{#if disks.raid1}}
    config:
      - {type: disk, id: disk0, path: {{disks.first_path}}, ptable: gpt, wipe: superblock-recursive, preserve: false, grub_device: true}
      - {type: disk, id: disk1, path: {{disks.second_path}}, ptable: gpt, wipe: superblock-recursive, preserve: false, grub_device: true}
      - {type: partition, id: bios0, device: disk0, size: 1M, flag: bios_grub, number: 1, preserve: false}
      - {type: partition, id: bios1, device: disk1, size: 1M, flag: bios_grub, number: 1, preserve: false}
      - {type: partition, id: esp0, device: disk0, size: 512M, flag: boot, number: 2, preserve: false}
      - {type: partition, id: esp1, device: disk1, size: 512M, flag: boot, number: 2, preserve: false}
      - {type: partition, id: root0, device: disk0, size: -1, number: 3, preserve: false}
      - {type: partition, id: root1, device: disk1, size: -1, number: 3, preserve: false}
      - {type: raid, id: md0, name: md0, raidlevel: raid1, devices: [root0, root1], preserve: false}
      - {type: format, id: fmt-esp0, volume: esp0, fstype: fat32, preserve: false}
      - {type: format, id: fmt-md0, volume: md0, fstype: ext4, preserve: false}
      - {type: mount, id: mnt-esp0, device: fmt-esp0, path: /boot/efi}
      - {type: mount, id: mnt-md0, device: fmt-md0, path: /}
{{else}}
    layout:
      name: direct
      match:
        path: {{disks.first_path}}
{{/if}}
  identity:
    hostname: {{hostname}}
    username: crowbar
    realname: Crowbar
    password: "!"
  ssh:
    install-server: true
    allow-pw: false
{{#if ssh_keys}}
    authorized-keys:
{{#each ssh_keys as k}}
      - {{k}}
{{/each}}
{{else}}
    authorized-keys: []
{{/if}}
  packages:
    - curl
    - chrony
  late-commands:
    - ["curtin", "in-target", "--target=/target", "--", "sh", "-c", {{post_command}}]
