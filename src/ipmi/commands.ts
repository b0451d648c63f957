/**
 * IPMI commands Crowbar uses, as request builders + response parsers over an
 * IpmiSession: Get Device ID (§20.1), Get Chassis Status (§28.2), Chassis
 * Control (§28.3), Chassis Identify (§28.5), Set/Get System Boot Options
 * (§28.12, §28.13, boot flags parameter 5 in table 28-14), Set/Get LAN
 * Configuration Parameters (§23.1, §23.2, table 23-4) and the user commands
 * Set User Access/Name/Password (§22.26, §22.28, §22.30).
 */
import { CrowbarError } from '../lib/errors.js';
import { isIPv4 } from '../lib/ip.js';
import { Cmd, NetFn, Privilege } from './constants.js';

/** The part of a session the commands need (IpmiSession implements it). */
export interface IpmiCaller {
  call(netFn: number, cmd: number, data?: Buffer, what?: string): Promise<Buffer>;
}

function need(b: Buffer, n: number, what: string): void {
  if (b.length < n) throw new CrowbarError('bmc.protocol', `${what} response of ${b.length} data bytes is truncated (need ${n})`);
}

/** Get Device ID response (§20.1, table 20-2). */
export interface DeviceId {
  deviceId: number;
  deviceRevision: number;
  firmwareRevision: string;
  ipmiVersion: string;
  manufacturerId: number;
  productId: number;
}

/** Get Device ID. */
export async function getDeviceId(s: IpmiCaller): Promise<DeviceId> {
  const d = await s.call(NetFn.app, Cmd.getDeviceId, Buffer.alloc(0), 'Get Device ID');
  need(d, 11, 'Get Device ID');
  // Firmware minor revision is BCD (§20.1); IPMI version is BCD nibbles, LS first.
  const minor = ((d[3] >> 4) & 0x0f) * 10 + (d[3] & 0x0f);
  return {
    deviceId: d[0],
    deviceRevision: d[1] & 0x0f,
    firmwareRevision: `${d[2] & 0x7f}.${String(minor).padStart(2, '0')}`,
    ipmiVersion: `${d[4] & 0x0f}.${d[4] >> 4}`,
    manufacturerId: d[6] | (d[7] << 8) | ((d[8] & 0x0f) << 16),
    productId: d.readUInt16LE(9),
  };
}

/** Get Chassis Status response (§28.2, table 28-3), the parts Crowbar reads. */
export interface ChassisStatus {
  powerOn: boolean;
  powerOverload: boolean;
  interlock: boolean;
  powerFault: boolean;
  powerControlFault: boolean;
  /** Power restore policy: 0 stay off, 1 restore previous, 2 always on, 3 unknown. */
  restorePolicy: number;
  identifyState: 'off' | 'temporary' | 'on' | 'unknown';
}

/** Get Chassis Status. */
export async function getChassisStatus(s: IpmiCaller): Promise<ChassisStatus> {
  const d = await s.call(NetFn.chassis, Cmd.getChassisStatus, Buffer.alloc(0), 'Get Chassis Status');
  need(d, 3, 'Get Chassis Status');
  const misc = d[2];
  const ident = (misc & 0x40) === 0 ? 'unknown' : (['off', 'temporary', 'on', 'unknown'] as const)[(misc >> 4) & 0x03];
  return {
    powerOn: (d[0] & 0x01) !== 0,
    powerOverload: (d[0] & 0x02) !== 0,
    interlock: (d[0] & 0x04) !== 0,
    powerFault: (d[0] & 0x08) !== 0,
    powerControlFault: (d[0] & 0x10) !== 0,
    restorePolicy: (d[0] >> 5) & 0x03,
    identifyState: ident,
  };
}

/** Chassis control actions (§28.3, table 28-4). */
export const CHASSIS_CONTROL = { off: 0x00, on: 0x01, cycle: 0x02, reset: 0x03, diag: 0x04, soft: 0x05 } as const;
/** A chassis control action name. */
export type ChassisAction = keyof typeof CHASSIS_CONTROL;

/** Chassis Control. */
export async function chassisControl(s: IpmiCaller, action: ChassisAction): Promise<void> {
  await s.call(NetFn.chassis, Cmd.chassisControl, Buffer.from([CHASSIS_CONTROL[action]]), `Chassis Control ${action}`);
}

/** Chassis Identify: light the identify LED for `seconds` (0 = off; `force` = on until turned off). */
export async function chassisIdentify(s: IpmiCaller, seconds: number, force = false): Promise<void> {
  const data = force ? Buffer.from([0, 1]) : Buffer.from([Math.max(0, Math.min(255, Math.round(seconds)))]);
  await s.call(NetFn.chassis, Cmd.chassisIdentify, data, 'Chassis Identify');
}

/** Boot devices of the boot flags parameter (§28.13, table 28-14, data 2 bits 5:2). */
export const BOOT_DEVICES = { none: 0x0, pxe: 0x1, disk: 0x2, safe: 0x3, diag: 0x4, cdrom: 0x5, bios: 0x6, floppy: 0xf } as const;
/** A boot device name. */
export type BootDevice = keyof typeof BOOT_DEVICES;

/** Boot flags (System Boot Options parameter 5). */
export interface BootFlags {
  device: BootDevice;
  /** Applies to all future boots (true) or the next boot only (false). */
  persistent: boolean;
  /** EFI boot (true) or legacy PC-compatible boot (false). */
  efi: boolean;
  /** Whether the BMC reports the flags as valid. */
  valid?: boolean;
}

/** Encode boot flags parameter data (5 bytes, table 28-14). */
export function encodeBootFlags(f: BootFlags): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x80 | (f.persistent ? 0x40 : 0) | (f.efi ? 0x20 : 0);
  b[1] = BOOT_DEVICES[f.device] << 2;
  return b;
}

/** Decode boot flags parameter data. */
export function decodeBootFlags(b: Buffer): BootFlags {
  if (b.length < 2) throw new CrowbarError('bmc.protocol', 'boot flags parameter is truncated');
  const code = (b[1] >> 2) & 0x0f;
  const device = (Object.entries(BOOT_DEVICES).find(([, v]) => v === code)?.[0] ?? 'none') as BootDevice;
  return { valid: (b[0] & 0x80) !== 0, persistent: (b[0] & 0x40) !== 0, efi: (b[0] & 0x20) !== 0, device };
}

/**
 * Set the next boot device: set-in-progress (parameter 0), boot info
 * acknowledge (parameter 4), boot flags (parameter 5), set-complete, the
 * sequence ipmitool uses. Set-in-progress is optional per §28.12 and its
 * failure is tolerated.
 */
export async function setBootDevice(s: IpmiCaller, f: BootFlags): Promise<void> {
  const set = (param: number, data: number[] | Buffer, what: string) =>
    s.call(NetFn.chassis, Cmd.setSystemBootOptions, Buffer.concat([Buffer.from([param & 0x7f]), Buffer.from(data)]), what);
  let inProgress = true;
  await set(0, [0x01], 'Set System Boot Options (set in progress)').catch(() => {
    inProgress = false;
  });
  try {
    await set(4, [0x01, 0x01], 'Set System Boot Options (boot info acknowledge)').catch(() => {});
    await set(5, encodeBootFlags(f), 'Set System Boot Options (boot flags)');
    if (inProgress) await set(0, [0x02], 'Set System Boot Options (commit write)').catch(() => {});
  } finally {
    if (inProgress) await set(0, [0x00], 'Set System Boot Options (set complete)').catch(() => {});
  }
}

/** Get the boot flags (Get System Boot Options parameter 5). */
export async function getBootFlags(s: IpmiCaller): Promise<BootFlags> {
  const d = await s.call(NetFn.chassis, Cmd.getSystemBootOptions, Buffer.from([5, 0, 0]), 'Get System Boot Options');
  // Response: parameter version, parameter valid/selector, data (§28.13).
  need(d, 4, 'Get System Boot Options');
  if ((d[1] & 0x7f) !== 5) throw new CrowbarError('bmc.protocol', `Get System Boot Options returned parameter ${d[1] & 0x7f}, not 5`);
  return decodeBootFlags(d.subarray(2));
}

/** LAN configuration parameter numbers (§23.2, table 23-4). */
export const LanParam = {
  ipAddress: 3,
  ipSource: 4,
  macAddress: 5,
  subnetMask: 6,
  defaultGateway: 12,
  vlanId: 20,
} as const;

/** Get LAN Configuration Parameters: raw parameter data (without the revision byte). */
export async function getLanConfig(s: IpmiCaller, channel: number, param: number, set = 0, block = 0): Promise<Buffer> {
  const d = await s.call(NetFn.transport, Cmd.getLanConfig, Buffer.from([channel & 0x0f, param, set, block]), `Get LAN Configuration parameter ${param}`);
  need(d, 1, 'Get LAN Configuration Parameters');
  return d.subarray(1);
}

/** Set LAN Configuration Parameters. */
export async function setLanConfig(s: IpmiCaller, channel: number, param: number, data: Buffer): Promise<void> {
  await s.call(NetFn.transport, Cmd.setLanConfig, Buffer.concat([Buffer.from([channel & 0x0f, param]), data]), `Set LAN Configuration parameter ${param}`);
}

function ipBytes(ip: string): Buffer {
  if (!isIPv4(ip)) throw new CrowbarError('bad_request', `not an IPv4 address: ${ip}`);
  return Buffer.from(ip.split('.').map(Number));
}

function ipText(b: Buffer, what: string): string {
  if (b.length < 4) throw new CrowbarError('bmc.protocol', `${what} parameter is truncated`);
  return [...b.subarray(0, 4)].join('.');
}

/** The BMC's LAN addressing. */
export interface LanAddress {
  ip: string;
  netmask: string;
  gateway: string;
  /** 'static' | 'dhcp' | other sources by number (table 23-4, parameter 4). */
  source: 'static' | 'dhcp' | 'bios' | 'other' | 'unspecified';
  mac?: string;
  /** 802.1q VLAN ID, or null when VLAN tagging is disabled. */
  vlan: number | null;
}

/** Read IP address, source, netmask, gateway, MAC and VLAN of a LAN channel. */
export async function getLanAddress(s: IpmiCaller, channel: number): Promise<LanAddress> {
  const ip = ipText(await getLanConfig(s, channel, LanParam.ipAddress), 'IP address');
  const src = (await getLanConfig(s, channel, LanParam.ipSource))[0] & 0x0f;
  const netmask = ipText(await getLanConfig(s, channel, LanParam.subnetMask), 'subnet mask');
  const gateway = ipText(await getLanConfig(s, channel, LanParam.defaultGateway), 'default gateway');
  const macB = await getLanConfig(s, channel, LanParam.macAddress).catch(() => Buffer.alloc(0));
  const vlanB = await getLanConfig(s, channel, LanParam.vlanId).catch(() => Buffer.alloc(0));
  const vlan = vlanB.length >= 2 && (vlanB[1] & 0x80) !== 0 ? vlanB[0] | ((vlanB[1] & 0x0f) << 8) : null;
  const source = (['unspecified', 'static', 'dhcp', 'bios', 'other'] as const)[src] ?? 'other';
  const mac = macB.length >= 6 ? [...macB.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined;
  return { ip, netmask, gateway, source, vlan, ...(mac ? { mac } : {}) };
}

/** Set a static address (and optionally gateway and VLAN) on a LAN channel. */
export async function setLanAddress(s: IpmiCaller, channel: number, a: { ip: string; netmask: string; gateway?: string; vlan?: number | null }): Promise<void> {
  await setLanConfig(s, channel, LanParam.ipSource, Buffer.from([0x01]));
  await setLanConfig(s, channel, LanParam.ipAddress, ipBytes(a.ip));
  await setLanConfig(s, channel, LanParam.subnetMask, ipBytes(a.netmask));
  if (a.gateway) await setLanConfig(s, channel, LanParam.defaultGateway, ipBytes(a.gateway));
  if (a.vlan !== undefined) {
    if (a.vlan !== null && (a.vlan < 1 || a.vlan > 4094)) throw new CrowbarError('bad_request', `VLAN ID ${a.vlan} is out of 1..4094`);
    const v = a.vlan ?? 0;
    await setLanConfig(s, channel, LanParam.vlanId, Buffer.from([v & 0xff, (a.vlan === null ? 0 : 0x80) | ((v >> 8) & 0x0f)]));
  }
}

/** Set User Name (§22.28): 16 bytes, zero padded. */
export async function setUserName(s: IpmiCaller, userId: number, name: string): Promise<void> {
  const n = Buffer.from(name, 'utf8');
  if (n.length === 0 || n.length > 16) throw new CrowbarError('bad_request', 'IPMI user names are 1 to 16 bytes');
  const b = Buffer.alloc(17);
  b[0] = userId & 0x3f;
  n.copy(b, 1);
  await s.call(NetFn.app, Cmd.setUserName, b, 'Set User Name');
}

/** Set User Password operations (§22.30, table 22-38). */
export const PasswordOp = { disable: 0x00, enable: 0x01, set: 0x02, test: 0x03 } as const;

/**
 * Set User Password: stores a 20-byte password (IPMI v2.0) when longer than
 * 16 bytes, else the 16-byte form; also enable/disable the user.
 */
export async function setUserPassword(s: IpmiCaller, userId: number, op: keyof typeof PasswordOp, password = ''): Promise<void> {
  const p = Buffer.from(password, 'utf8');
  if (p.length > 20) throw new CrowbarError('bad_request', 'IPMI passwords are at most 20 bytes');
  const wide = p.length > 16;
  const withPw = op === 'set' || op === 'test';
  const b = Buffer.alloc(2 + (withPw ? (wide ? 20 : 16) : 0));
  b[0] = (wide ? 0x80 : 0) | (userId & 0x3f);
  b[1] = PasswordOp[op];
  if (withPw) p.copy(b, 2);
  await s.call(NetFn.app, Cmd.setUserPassword, b, `Set User Password (${op})`);
}

/** Set User Access (§22.26): privilege limit on a channel, IPMI messaging and link auth enabled. */
export async function setUserAccess(s: IpmiCaller, channel: number, userId: number, privilege: number = Privilege.administrator): Promise<void> {
  // Byte 1: bit 7 = change bits 6:4, bit 5 link auth, bit 4 IPMI messaging, bits 3:0 channel.
  const b = Buffer.from([0x80 | 0x20 | 0x10 | (channel & 0x0f), userId & 0x3f, privilege & 0x0f, 0x00]);
  await s.call(NetFn.app, Cmd.setUserAccess, b, 'Set User Access');
}

/**
 * Create or update a BMC user the way the hardware-install phase does:
 * name, password (20-byte form when longer than 16), privilege on the LAN
 * channel with IPMI messaging, then enable it.
 */
export async function configureUser(s: IpmiCaller, u: { channel: number; userId: number; name: string; password: string; privilege?: number }): Promise<void> {
  if (u.userId < 2 || u.userId > 63) throw new CrowbarError('bad_request', 'user ID must be 2..63 (user 1 is the anonymous user)');
  await setUserName(s, u.userId, u.name);
  await setUserPassword(s, u.userId, 'set', u.password);
  await setUserAccess(s, u.channel, u.userId, u.privilege ?? Privilege.administrator);
  await setUserPassword(s, u.userId, 'enable');
}
