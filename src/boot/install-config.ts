/**
 * Per-node install configuration: the pure mapping from what the appliance
 * knows (node, OS medium, admin allocation, raid/provisioner settings, the
 * node's install URLs) to the template context, and the rendering of a
 * template with it. The service (src/services/installer.ts) gathers the facts.
 */
import { CrowbarError } from '../lib/errors.js';
import type { Node } from '../model/node.js';
import type { OsMedia } from '../model/os.js';
import { formatOf, purposeFor, type InstallPurpose } from './install-templates.js';
import { renderInstallTemplate, type TemplateValue } from './template-lang.js';

/** The node's disks as the installer uses them. */
export interface DiskPlan {
  /** `raid1`: software RAID 1 across the first two disks; `single`: the first disk. */
  layout: 'raid1' | 'single';
  /** Kernel names (`sda`, `vda`, `nvme0n1`), in use order. */
  disks: string[];
}

/** Raid barclamp settings that apply to a node (from the applied raid proposal). */
export interface RaidSettings {
  level: string;
  disks: string[];
}

/** A disk id of a RAID controller's CLI (storcli/perccli `252:0`, ssacli `1I:1:1`), not a block device. */
const CONTROLLER_DRIVE = /^[0-9A-Za-z]+:[0-9A-Za-z]+(:[0-9A-Za-z]+)?$/;

/**
 * The disk layout: software RAID 1 when the raid barclamp asks for level 1 and
 * the node has two disks, else the first disk. Disks come from the node's
 * inventory (the order the discovery agent reported), or from the raid
 * settings, or `sda` when nothing is known. RAID 1 uses the raid settings' own
 * disks when the inventory has them, else the first two. When the raid
 * settings name controller drives (`252:0`), the RAID is the controller's: the
 * OS sees its volume as one disk, so the layout is `single`.
 */
export function diskPlan(inventoryDisks: ReadonlyArray<{ name: string }> | undefined, raid: RaidSettings | null): DiskPlan {
  const clean = (n: string): string => n.replace(/^\/dev\//, '');
  const valid = (n: string): boolean => /^[a-z][a-z0-9]*$/.test(n);
  const named = (raid?.disks ?? []).map(clean);
  let disks = (inventoryDisks ?? []).map((d) => clean(d.name)).filter(valid);
  if (disks.length === 0) disks = named.filter(valid);
  if (disks.length === 0) disks = ['sda'];
  const controller = named.length > 0 && named.every((n) => CONTROLLER_DRIVE.test(n));
  if (raid && raid.level === '1' && !controller && disks.length >= 2) {
    const own = named.filter((n) => disks.includes(n));
    return { layout: 'raid1', disks: own.length >= 2 ? own.slice(0, 2) : disks.slice(0, 2) };
  }
  return { layout: 'single', disks: disks.slice(0, 1) };
}

/** The node's admin-network configuration from our allocation. */
export interface AdminNet {
  address: string;
  netmask: string;
  prefix: number;
  gateway: string | null;
}

/** Everything the install config is made from. */
export interface InstallFacts {
  node: Node;
  media: OsMedia;
  domain: string;
  admin: AdminNet;
  /** The appliance's base URL (no trailing slash) and admin address. */
  applianceUrl: string;
  applianceAddress: string;
  dnsServers: string[];
  ntpServers: string[];
  disks: DiskPlan;
  timezone: string;
  sshKeys: string[];
  /** The provisioner's package mirror (used instead of the medium's tree), or null. */
  mirror: string | null;
  /** Base of the node's install URLs: `<appliance>/install/<token>` (no trailing slash). */
  installBase: string;
}

/** Release code names of the Debian-family releases we install. */
const CODENAMES: Readonly<Record<string, string>> = {
  'debian-11': 'bullseye',
  'debian-12': 'bookworm',
  'debian-13': 'trixie',
  'ubuntu-18.04': 'bionic',
  'ubuntu-20.04': 'focal',
  'ubuntu-22.04': 'jammy',
  'ubuntu-24.04': 'noble',
};

/** The release code name: the medium's `meta.codename`, else the known table, else ''. */
export function codenameOf(m: OsMedia): string {
  const c = m.meta.codename;
  if (typeof c === 'string' && /^[a-z]+$/.test(c)) return c;
  return CODENAMES[`${m.family}-${m.version}`] ?? CODENAMES[`${m.family}-${m.version.split('.')[0]}`] ?? '';
}

/** Debian architecture name to the kernel/RPM one (`amd64` -> `x86_64`). */
export function rpmArch(arch: string): string {
  return ({ amd64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[arch] ?? arch;
}

/**
 * The package repository the installer uses: the provisioner's mirror when
 * set, else the medium's tree on the appliance; a medium without packages
 * (a d-i netboot tree) needs the mirror.
 */
export function repoUrl(f: Pick<InstallFacts, 'media' | 'mirror' | 'applianceUrl'>): URL {
  if (f.mirror) {
    let u: URL;
    try {
      u = new URL(f.mirror.endsWith('/') ? f.mirror : f.mirror + '/');
    } catch {
      throw new CrowbarError('bad_request', `provisioner mirror ${JSON.stringify(f.mirror)} is not a URL`);
    }
    if (u.protocol !== 'http:' || !/^[A-Za-z0-9._~:/%-]+$/.test(u.host + u.pathname)) throw new CrowbarError('bad_request', `provisioner mirror ${JSON.stringify(f.mirror)} must be a plain http:// URL`);
    return u;
  }
  if (f.media.meta.repository === false) throw new CrowbarError('os.missing', `${f.media.name} carries no packages (an installer netboot tree): set the provisioner's mirror`);
  return new URL(`${f.applianceUrl}/os/${f.media.name}/`);
}

/** The device prefix of a disk's partitions (`/dev/nvme0n1p`, `/dev/sda`). */
export function partPrefix(disk: string): string {
  return /\d$/.test(disk) ? `/dev/${disk}p` : `/dev/${disk}`;
}

/** The template context of a node's install. */
export function installContext(f: InstallFacts): Record<string, TemplateValue> {
  const short = f.node.name.endsWith('.' + f.domain) ? f.node.name.slice(0, -(f.domain.length + 1)) : f.node.name.split('.')[0];
  const repo = repoUrl(f);
  const mac = f.node.macs[0] ?? '';
  return {
    node: f.node.name,
    hostname: short,
    domain: f.domain,
    fqdn: `${short}.${f.domain}`,
    mac,
    os: { name: f.media.name, family: f.media.family, version: f.media.version, arch: f.media.arch, rpm_arch: rpmArch(f.media.arch), codename: codenameOf(f.media) },
    net: { address: f.admin.address, netmask: f.admin.netmask, prefix: f.admin.prefix, cidr: `${f.admin.address}/${f.admin.prefix}`, gateway: f.admin.gateway ?? '', has_gateway: f.admin.gateway !== null },
    dns_servers: f.dnsServers,
    ntp_servers: f.ntpServers,
    appliance_url: f.applianceUrl,
    appliance_address: f.applianceAddress,
    repo: { url: repo.href, host: repo.host, path: repo.pathname.replace(/\/$/, '') },
    disks: {
      raid1: f.disks.layout === 'raid1',
      names: f.disks.disks,
      first: f.disks.disks[0],
      second: f.disks.disks[1] ?? '',
      first_path: `/dev/${f.disks.disks[0]}`,
      second_path: f.disks.disks[1] ? `/dev/${f.disks.disks[1]}` : '',
      // Partition device prefix: /dev/sda -> /dev/sda1, /dev/nvme0n1 -> /dev/nvme0n1p1.
      first_part: partPrefix(f.disks.disks[0]),
      second_part: f.disks.disks[1] ? partPrefix(f.disks.disks[1]) : '',
    },
    timezone: f.timezone,
    ssh_keys: f.sshKeys,
    // The installers' last step: fetch and run post-install.sh inside the target.
    post_command: `curl -fsS --retry 5 -o /root/crowbar-post-install.sh ${f.installBase}/post-install.sh && sh /root/crowbar-post-install.sh`,
    urls: {
      config: `${f.installBase}/config`,
      post: `${f.installBase}/post-install.sh`,
      installed: `${f.installBase}/installed`,
      join_token: `${f.installBase}/join-token`,
      join_bundle: `${f.installBase}/join.tar.gz`,
    },
  };
}

/** Check the facts that end up in configs before rendering (a bad timezone or key is a 4xx, not a broken install). */
export function checkFacts(f: InstallFacts): void {
  if (!/^https?:\/\/[A-Za-z0-9._~:/%@-]+$/.test(f.installBase)) throw new CrowbarError('internal', `install URL base ${JSON.stringify(f.installBase)} has characters a config cannot carry unquoted`);
  if (!/^[A-Za-z0-9_+\-/]+$/.test(f.timezone)) throw new CrowbarError('bad_request', `provisioner timezone ${JSON.stringify(f.timezone)} is not a zone name like Europe/Berlin`);
  for (const k of f.sshKeys) if (!/^(ssh|ecdsa|sk)-[a-z0-9@.-]+ [A-Za-z0-9+/=]+( [\x20-\x7e]*)?$/.test(k)) throw new CrowbarError('bad_request', `provisioner access_keys holds a line that is not an SSH public key: ${JSON.stringify(k.slice(0, 40))}`);
}

/** Render the install config (`purpose` defaults to the OS's format) from a template text. */
export function renderInstallConfig(templateText: string, templateName: string, f: InstallFacts, purpose: InstallPurpose = purposeFor(f.media.family, f.media.version)): string {
  checkFacts(f);
  return renderInstallTemplate(templateText, installContext(f), formatOf(purpose), templateName);
}
