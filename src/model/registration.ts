/**
 * The discovery registration body (what the discovery agent POSTs to
 * /api/v1/discovery) and its schema check. Anything outside the schema is
 * refused with a message naming the field; nothing unknown is stored.
 */
import { CrowbarError } from '../lib/errors.js';
import { isMac, normalizeMac } from '../lib/mac.js';
import type { Inventory } from './node.js';

/** A checked registration: boot MAC plus inventory. */
export interface Registration {
  /** Canonical boot MAC (the NIC the machine PXE-booted from). */
  mac: string;
  inventory: Inventory;
  /** Every MAC of the machine, boot MAC first, deduplicated. */
  macs: string[];
}

/** Limits applied by the schema check. */
export const REGISTRATION_LIMITS = { maxDisks: 128, maxNics: 64, maxString: 256, maxDmiKeys: 32 } as const;

const DMI_KEY = /^[a-z][a-z0-9_]{0,31}$/;

function bad(path: string, msg: string): never {
  throw new CrowbarError('bad_request', `body.${path}: ${msg}`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'must be an object');
  return v as Record<string, unknown>;
}

function str(v: unknown, path: string, optional = true): string | undefined {
  if (v === undefined || v === null) {
    if (optional) return undefined;
    bad(path, 'required string');
  }
  if (typeof v !== 'string') bad(path, 'must be a string');
  if (v.length > REGISTRATION_LIMITS.maxString) bad(path, `longer than ${REGISTRATION_LIMITS.maxString} characters`);
  return v;
}

function int(v: unknown, path: string, min: number, max: number, optional = true): number | undefined {
  if (v === undefined || v === null) {
    if (optional) return undefined;
    bad(path, 'required number');
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(path, `must be an integer in ${min}..${max}`);
  return v;
}

function only(o: Record<string, unknown>, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${path}.${k}`, `unknown field (allowed: ${keys.join(', ')})`);
}

function dropUndef<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** Check a registration body; throws `bad_request` naming the first bad field. */
export function parseRegistration(body: unknown): Registration {
  const b = obj(body, '(root)');
  only(b, '(root)', ['mac', 'inventory']);
  const macRaw = str(b.mac, 'mac', false)!;
  if (!isMac(macRaw)) bad('mac', `not a MAC address: ${JSON.stringify(macRaw)}`);
  const mac = normalizeMac(macRaw);
  const inv = obj(b.inventory, 'inventory');
  only(inv, 'inventory', ['cpu_count', 'cpu_model', 'memory_kb', 'disks', 'nics', 'dmi', 'firmware', 'bmc', 'kernel']);
  const out: Inventory = {};
  out.cpu_count = int(inv.cpu_count, 'inventory.cpu_count', 1, 65536, false);
  out.cpu_model = str(inv.cpu_model, 'inventory.cpu_model');
  out.memory_kb = int(inv.memory_kb, 'inventory.memory_kb', 1, 2 ** 40, false);
  const disks = inv.disks ?? [];
  if (!Array.isArray(disks)) bad('inventory.disks', 'must be a list');
  if (disks.length > REGISTRATION_LIMITS.maxDisks) bad('inventory.disks', `more than ${REGISTRATION_LIMITS.maxDisks} entries`);
  out.disks = disks.map((d, i) => {
    const p = `inventory.disks[${i}]`;
    const o = obj(d, p);
    only(o, p, ['name', 'size_bytes', 'model', 'serial', 'rotational']);
    return dropUndef({
      name: str(o.name, `${p}.name`, false)!,
      size_bytes: int(o.size_bytes, `${p}.size_bytes`, 0, Number.MAX_SAFE_INTEGER, false)!,
      model: str(o.model, `${p}.model`),
      serial: str(o.serial, `${p}.serial`),
      rotational: int(o.rotational, `${p}.rotational`, 0, 1),
    });
  });
  const nics = inv.nics ?? [];
  if (!Array.isArray(nics)) bad('inventory.nics', 'must be a list');
  if (nics.length > REGISTRATION_LIMITS.maxNics) bad('inventory.nics', `more than ${REGISTRATION_LIMITS.maxNics} entries`);
  out.nics = nics.map((n, i) => {
    const p = `inventory.nics[${i}]`;
    const o = obj(n, p);
    only(o, p, ['name', 'mac', 'driver', 'speed_mbps', 'carrier', 'boot']);
    const m = str(o.mac, `${p}.mac`, false)!;
    if (!isMac(m)) bad(`${p}.mac`, `not a MAC address: ${JSON.stringify(m)}`);
    if (o.boot !== undefined && typeof o.boot !== 'boolean') bad(`${p}.boot`, 'must be a boolean');
    return dropUndef({
      name: str(o.name, `${p}.name`, false)!,
      mac: normalizeMac(m),
      driver: str(o.driver, `${p}.driver`),
      speed_mbps: int(o.speed_mbps, `${p}.speed_mbps`, 0, 10_000_000),
      carrier: int(o.carrier, `${p}.carrier`, 0, 1),
      boot: o.boot as boolean | undefined,
    });
  });
  if (inv.dmi !== undefined) {
    const d = obj(inv.dmi, 'inventory.dmi');
    const keys = Object.keys(d);
    if (keys.length > REGISTRATION_LIMITS.maxDmiKeys) bad('inventory.dmi', `more than ${REGISTRATION_LIMITS.maxDmiKeys} fields`);
    const dmi: Record<string, string> = {};
    for (const k of keys) {
      if (!DMI_KEY.test(k)) bad(`inventory.dmi.${k}`, 'bad field name');
      dmi[k] = str(d[k], `inventory.dmi.${k}`, false)!;
    }
    out.dmi = dmi;
  }
  if (inv.firmware !== undefined) {
    if (inv.firmware !== 'bios' && inv.firmware !== 'uefi') bad('inventory.firmware', 'must be "bios" or "uefi"');
    out.firmware = inv.firmware;
  }
  if (inv.bmc !== undefined) {
    const o = obj(inv.bmc, 'inventory.bmc');
    only(o, 'inventory.bmc', ['present', 'address', 'mac', 'manufacturer_id', 'product_id']);
    if (o.present !== undefined && typeof o.present !== 'boolean') bad('inventory.bmc.present', 'must be a boolean');
    const bmcMac = str(o.mac, 'inventory.bmc.mac');
    out.bmc = dropUndef({
      address: str(o.address, 'inventory.bmc.address') || undefined,
      mac: bmcMac && isMac(bmcMac) ? normalizeMac(bmcMac) : undefined,
      manufacturer_id: str(o.manufacturer_id, 'inventory.bmc.manufacturer_id') || undefined,
      product_id: str(o.product_id, 'inventory.bmc.product_id') || undefined,
    });
  }
  out.kernel = str(inv.kernel, 'inventory.kernel');
  const clean = dropUndef(out as Record<string, unknown>) as Inventory;
  const macs = [mac, ...(out.nics ?? []).map((n) => n.mac)].filter((m, i, a) => a.indexOf(m) === i);
  return { mac, inventory: clean, macs };
}

/** Hardware identity of a machine: DMI product UUID and serial (lower-case, trimmed). */
export interface HardwareIdentity {
  uuid: string;
  serial: string;
}

/** The hardware identity recorded in an inventory (empty strings when unknown). */
export function hardwareIdentity(inv: Inventory): HardwareIdentity {
  const dmi = (inv.dmi ?? {}) as Record<string, string>;
  const norm = (s: string | undefined): string => (s ?? '').trim().toLowerCase();
  return { uuid: norm(dmi.product_uuid), serial: norm(dmi.product_serial) };
}

/** DMI values that firmware vendors leave as placeholders: not an identity. */
const PLACEHOLDERS = new Set([
  '',
  '0',
  'none',
  'n/a',
  'na',
  'not specified',
  'not available',
  'not applicable',
  'to be filled by o.e.m.',
  'default string',
  'system serial number',
  'system product name',
  '0123456789',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '03000200-0400-0500-0006-000700080009',
]);

/** True when a DMI value can identify a machine (not empty, not a placeholder). */
export function isReliableId(v: string): boolean {
  return !PLACEHOLDERS.has(v.trim().toLowerCase());
}

/**
 * The identity rule (docs/discovery.md): is the machine registering now the
 * machine already stored as a node, or another machine claiming its MACs?
 *  - stored node without any inventory (created by an operator from its
 *    MACs): the first registration adopts it;
 *  - stored DMI identity (product UUID and/or serial not placeholders): the
 *    claim must carry the same UUID and the same serial;
 *  - no usable DMI identity stored: the claim must carry exactly the stored
 *    set of MACs.
 */
export function sameMachine(stored: { inventory: Inventory; macs: readonly string[] }, claim: Registration): { same: boolean; reason: string } {
  const inv = stored.inventory;
  if (!inv.dmi && !(inv.nics && inv.nics.length) && inv.cpu_count === undefined) return { same: true, reason: 'node had no recorded hardware (pre-created): adopted' };
  const s = hardwareIdentity(inv);
  const c = hardwareIdentity(claim.inventory);
  if (isReliableId(s.uuid) || isReliableId(s.serial)) {
    if (s.uuid === c.uuid && s.serial === c.serial) return { same: true, reason: 'same DMI product UUID and serial' };
    return { same: false, reason: 'DMI product UUID/serial differ from the registered machine' };
  }
  const a = [...new Set(stored.macs)].sort().join(',');
  const b = [...new Set(claim.macs)].sort().join(',');
  if (a === b) return { same: true, reason: 'no usable DMI identity; same set of MACs' };
  return { same: false, reason: 'no usable DMI identity and the set of MACs differs' };
}
