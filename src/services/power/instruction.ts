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

/** What hardware-install should do. */
export interface HardwareInstallPlan {
  channel: number;
  userId: number;
  user: string;
  password: string;
  network?: BmcNetwork;
  raid?: { level: 'none' | 'raid1'; disks?: string[] };
}

function clean(key: string, v: string): string {
  if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(v)) throw new CrowbarError('bad_request', `hardware-install ${key}: value must be printable ASCII without newlines`);
  return v;
}

/** Render a plan as the instruction text the agent script reads. */
export function renderHardwareInstall(p: HardwareInstallPlan): string {
  const lines: string[] = [`BMC_CHANNEL=${p.channel}`, `BMC_USER_ID=${p.userId}`, `BMC_USER=${clean('user', p.user)}`, `BMC_PASSWORD=${clean('password', p.password)}`];
  if (p.network) {
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
  if (raid.level === 'raid1') {
    const disks = raid.disks ?? [];
    if (disks.length !== 2 || disks.some((d) => !/^\/dev\/[A-Za-z0-9/_-]+$/.test(d))) throw new CrowbarError('bad_request', 'raid1 needs two /dev/ paths');
    lines.push(`RAID_DISKS=${disks.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}
