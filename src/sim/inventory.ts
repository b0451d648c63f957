/**
 * Plausible hardware for simulated machines, derived deterministically from
 * a seed and the machine's index: MACs in a locally administered range
 * (02:cb:<run>:...), a DMI identity (vendor, product, serial, UUID), CPUs,
 * memory, disks and NICs in the shape the discovery agent reports
 * (src/model/registration.ts).
 */
import { createHash } from 'node:crypto';
import type { Inventory } from '../model/node.js';

/** The identity of one simulated machine. */
export interface MachineIdentity {
  index: number;
  /** Boot NIC MAC (aa:bb:.. lower case). */
  mac: string;
  /** Second NIC. */
  mac2: string;
  /** BMC MAC. */
  bmcMac: string;
  /** 16-byte system UUID (DMI and DHCP option 97). */
  uuid: Buffer;
  serial: string;
  firmware: 'bios' | 'uefi';
}

const MODELS = [
  { vendor: 'Dell Inc.', product: 'PowerEdge R650', cpu: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz', cpus: 64, memGb: 256, disk: 'PERC H755 Front' },
  { vendor: 'HPE', product: 'ProLiant DL360 Gen10 Plus', cpu: 'Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz', cpus: 32, memGb: 128, disk: 'MO001600PXVRU' },
  { vendor: 'Supermicro', product: 'SYS-1029U-TRT', cpu: 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', cpus: 40, memGb: 192, disk: 'SAMSUNG MZ7LH960HAJR' },
  { vendor: 'Lenovo', product: 'ThinkSystem SR630 V2', cpu: 'AMD EPYC 7443 24-Core Processor', cpus: 48, memGb: 512, disk: 'ThinkSystem M.2 VD' },
] as const;

function digest(seed: string, index: number, what: string): Buffer {
  return createHash('sha256').update(`${seed}/${index}/${what}`).digest();
}

function macFrom(prefix: number, seed: string, index: number): string {
  // 02 = locally administered unicast; cb; a per-run byte; a kind byte; the index in two bytes... index < 65536.
  const run = digest(seed, 0, 'run')[0];
  const b = [0x02, 0xcb, run, prefix, (index >> 8) & 0xff, index & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The identity of machine `index` (0..65535) of run `seed`. */
export function machineIdentity(seed: string, index: number): MachineIdentity {
  const u = digest(seed, index, 'uuid').subarray(0, 16);
  u[6] = (u[6] & 0x0f) | 0x40;
  u[8] = (u[8] & 0x3f) | 0x80;
  return {
    index,
    mac: macFrom(0x01, seed, index),
    mac2: macFrom(0x02, seed, index),
    bmcMac: macFrom(0x03, seed, index),
    uuid: Buffer.from(u),
    serial: `SIM${digest(seed, index, 'serial').toString('hex').slice(0, 9).toUpperCase()}`,
    firmware: digest(seed, index, 'fw')[0] % 3 === 0 ? 'bios' : 'uefi',
  };
}

function uuidText(u: Buffer): string {
  const h = u.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** What the discovery agent would report for this machine; `bmcAddress` is the BMC's current address. */
export function inventoryOf(seed: string, id: MachineIdentity, bmcAddress: string): Inventory {
  const m = MODELS[digest(seed, id.index, 'model')[0] % MODELS.length];
  const disks = 1 + (digest(seed, id.index, 'disks')[0] % 3);
  return {
    cpu_count: m.cpus,
    cpu_model: m.cpu,
    memory_kb: m.memGb * 1024 * 1024 - 2_000_000,
    firmware: id.firmware,
    kernel: '6.1.0-28-amd64',
    disks: Array.from({ length: disks }, (_, i) => ({
      name: `sd${String.fromCharCode(97 + i)}`,
      size_bytes: 960_197_124_096,
      model: m.disk,
      serial: `${id.serial}D${i}`,
      rotational: 0,
    })),
    nics: [
      { name: 'eno1', mac: id.mac, driver: 'ixgbe', speed_mbps: 10000, carrier: 1 },
      { name: 'eno2', mac: id.mac2, driver: 'ixgbe', speed_mbps: 10000, carrier: 0 },
    ],
    dmi: {
      sys_vendor: m.vendor,
      product_name: m.product,
      product_version: '1.0',
      product_serial: id.serial,
      product_uuid: uuidText(id.uuid),
      chassis_type: '23',
      bios_version: '2.19.1',
    },
    bmc: { address: bmcAddress, mac: id.bmcMac, manufacturer_id: '343', product_id: '4660' },
  };
}
