/**
 * The hardware-install instruction for images/agent/hardware-install.sh
 * (contract in docs/ipmi.md): KEY=value lines, one per setting, never
 * evaluated by the agent. Contains the BMC password: serve it only over the
 * node's token-authenticated agent channel, never over TFTP or in a log.
 */
import { CrowbarError } from '../../lib/errors.js';
import { isIPv4 } from '../../lib/ip.js';

/** BMC network settings from the node's bmc network allocation. */
export interface BmcNetwork {
  ip: string;
  netmask: string;
  gateway?: string;
  /** 802.1q VLAN ID, or 'off'. */
  vlan?: number | 'off';
}

/** RAID levels the agent builds (images/agent/raid.sh). */
export type RaidLevel = 'none' | 'raid0' | 'raid1' | 'raid5' | 'raid6' | 'raid10';

/** Fewest disks per RAID level (raid1: exactly two). */
export const RAID_MIN_DISKS: Readonly<Record<Exclude<RaidLevel, 'none'>, number>> = { raid0: 2, raid1: 2, raid5: 3, raid6: 4, raid10: 4 };

/** RAID to build: disks are block devices (software RAID) or a controller's drive ids (E:S, port:box:bay). */
export interface RaidSpec {
  level: RaidLevel;
  disks?: string[];
}

/** BIOS/UEFI settings to apply (images/agent/bios.sh): KEY=value strings, optional vendor tool. */
export interface BiosSpec {
  settings: string[];
  tool?: string;
}

/** What hardware-install should do. */
export interface HardwareInstallPlan {
  channel: number;
  userId: number;
  user: string;
  password: string;
  network?: BmcNetwork;
  raid?: RaidSpec;
  bios?: BiosSpec;
  /** false: leave the BMC alone (ipmi proposal with enable: false); no BMC_* keys are written. */
  bmc?: boolean;
}

function clean(key: string, v: string): string {
  if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(v)) throw new CrowbarError('bad_request', `hardware-install ${key}: value must be printable ASCII without newlines`);
  return v;
}

/** Render a plan as the instruction text the agent script reads. */
export function renderHardwareInstall(p: HardwareInstallPlan): string {
  const lines: string[] = [];
  if (p.bmc !== false) lines.push(`BMC_CHANNEL=${p.channel}`, `BMC_USER_ID=${p.userId}`, `BMC_USER=${clean('user', p.user)}`, `BMC_PASSWORD=${clean('password', p.password)}`);
  if (p.network && p.bmc !== false) {
    const n = p.network;
    for (const [k, v] of [['ip', n.ip], ['netmask', n.netmask], ['gateway', n.gateway]] as const)
      if (v !== undefined && !isIPv4(v)) throw new CrowbarError('bad_request', `hardware-install bmc ${k}: ${v} is not IPv4`);
    lines.push(`BMC_IP=${n.ip}`, `BMC_NETMASK=${n.netmask}`);
    if (n.gateway) lines.push(`BMC_GATEWAY=${n.gateway}`);
    if (n.vlan !== undefined) {
      if (n.vlan !== 'off' && (!Number.isInteger(n.vlan) || n.vlan < 1 || n.vlan > 4094)) throw new CrowbarError('bad_request', `hardware-install vlan ${n.vlan} is out of 1..4094`);
      lines.push(`BMC_VLAN=${n.vlan}`);
    }
  }
  const raid = p.raid ?? { level: 'none' };
  lines.push(`RAID_LEVEL=${raid.level}`);
  if (raid.level !== 'none') {
    const disks = raid.disks ?? [];
    const min = RAID_MIN_DISKS[raid.level];
    if (min === undefined) throw new CrowbarError('bad_request', `raid level ${String(raid.level)} is not supported`);
    if (disks.length < min || (raid.level === 'raid1' && disks.length !== 2)) throw new CrowbarError('bad_request', `${raid.level} needs ${raid.level === 'raid1' ? 'two' : `at least ${min}`} disks`);
    if (disks.some((d) => !/^(\/dev\/[A-Za-z0-9/_-]+|[0-9A-Za-z]+(:[0-9]+){1,2})$/.test(d))) throw new CrowbarError('bad_request', 'raid disks must be /dev/ paths or controller drive ids (252:0, 1I:1:1)');
    lines.push(`RAID_DISKS=${disks.join(' ')}`);
  }
  if (p.bios && p.bios.settings.length) {
    for (const kv of p.bios.settings)
      if (!/^[A-Za-z0-9_.]+=[A-Za-z0-9_.,:+-]+$/.test(kv)) throw new CrowbarError('bad_request', `bios setting ${JSON.stringify(kv)}: must be KEY=value (letters, digits, _.,:+-)`);
    lines.push(`BIOS_SETTINGS=${p.bios.settings.join(' ')}`);
    if (p.bios.tool) lines.push(`BIOS_TOOL=${clean('bios tool', p.bios.tool)}`);
  }
  return lines.join('\n') + '\n';
}
