/**
 * The appliance configuration: its typed shape and the field specification
 * used to validate it. Documented in README.md ("Configuration") with the
 * example file `crowbar.example.yaml`.
 */
import { isIPv4, parseCidr } from '../lib/ip.js';
import { errorMessage } from '../lib/errors.js';
import type { FieldSpec } from './validate.js';

/** Common per-service settings. */
export interface ServiceBase {
  enabled: boolean;
  /** Address to bind (0.0.0.0 for all). */
  bind: string;
  port: number;
}

/** A DHCP address pool for one subnet (the admin subnet or a relayed one). */
export interface DhcpSubnet {
  /** Subnet in CIDR form. */
  subnet: string;
  /** First and last address handed out dynamically. */
  range_start: string;
  range_end: string;
  /** Router option (3); omitted when empty. */
  router?: string;
}

/** The validated, frozen configuration. */
export interface Config {
  data_dir: string;
  log_level: 'debug' | 'info' | 'warn' | 'error';
  admin_network: {
    /** Interface name the admin network is on (documentation and the lab's ip commands). */
    interface: string;
    /** The appliance's own address on the admin network, CIDR form. */
    address: string;
    /** DNS domain of the admin network. */
    domain: string;
    router?: string;
    /** Range of admin addresses allocated to discovered nodes (Crowbar's "host" range); derived when empty. */
    host_range_start: string;
    host_range_end: string;
  };
  /** Discovery image, agent endpoints and per-node boot scripts (docs/discovery.md). */
  discovery: {
    /** Where the appliance serves the discovery kernel/initrd from (default <data_dir>/images/discovery). */
    image_dir: string;
    /** Build cache of images/build-discovery.sh, copied into image_dir at start when image_dir is empty. */
    image_cache: string;
    /** Directory of iPXE templates (default: the pxe/ directory shipped with Crowbar). */
    templates_dir: string;
    /** Extra kernel arguments for the discovery image. */
    kernel_args: string;
    /** How often a waiting agent asks for instructions, seconds. */
    poll_seconds: number;
    /** Largest registration body accepted, bytes. */
    max_body_bytes: number;
    /** Registrations accepted per source address per minute. */
    rate_per_minute: number;
    /** Agent log kept per node, bytes (oldest lines dropped first). */
    log_cap_bytes: number;
  };
  services: {
    dhcp: ServiceBase & {
      mode: 'full' | 'proxy';
      /** Proxy DHCP port (PXE spec: 4011). */
      proxy_port: number;
      /** Port replies are sent to (68; tests use high ports). */
      client_port: number;
      lease_seconds: number;
      /** Offer hold before an unclaimed offer is released, seconds. */
      offer_hold_seconds: number;
      /** Dynamic pool on the admin subnet. */
      range_start: string;
      range_end: string;
      /** Relayed subnets (selected by giaddr). */
      relays: DhcpSubnet[];
      /** Loader for UEFI x64 PXE ROMs (arch 7/9). */
      efi_loader: 'snponly.efi' | 'ipxe.efi';
      /** Quarantine of a declined address, seconds (RFC 2131 §4.3.3). */
      decline_seconds: number;
      /** Bound on outstanding offers kept in memory (oldest evicted). */
      max_offers: number;
    };
    tftp: ServiceBase & {
      /** Directory of boot loaders served over TFTP. */
      root: string;
      /** Where the iPXE loaders are copied from when missing in `root` (Debian ipxe package). */
      ipxe_dir: string;
      /** Largest blksize granted (RFC 2348, 8..65464). */
      max_blksize: number;
      /** Largest windowsize granted (RFC 7440). */
      max_windowsize: number;
      /** First retransmission timeout in ms (doubles per retry up to max_timeout_ms). */
      timeout_ms: number;
      max_timeout_ms: number;
      /** Retransmissions before a transfer is abandoned. */
      retries: number;
      /** Concurrent transfers. */
      max_transfers: number;
      /** Requests per second per client address. */
      requests_per_second: number;
      /** Extra directories served under a path prefix (TFTP and /boot/files/), besides discovery/. */
      prefix_roots: Array<{ prefix: string; dir: string }>;
    };
    dns: ServiceBase & {
      /** Upstream resolvers for admin-network clients; empty: not a resolver at all. */
      forwarders: string[];
    };
    ntp: ServiceBase & {
      /** Declare the appliance's clock the local reference (stratum 10, LOCL). */
      local_reference: boolean;
    };
    http: ServiceBase & {
      /** URL nodes use to reach the appliance; derived from admin_network.address and port when empty. */
      public_url: string;
    };
  };
}

const ipv4 = (v: string): string | null => (isIPv4(v) ? null : `must be an IPv4 address, got ${JSON.stringify(v)}`);
const cidr = (v: string): string | null => {
  try {
    parseCidr(v);
    return null;
  } catch (e) {
    return errorMessage(e);
  }
};
const nonEmpty = (v: string): string | null => (v.length ? null : 'must not be empty');
const domain = (v: string): string | null =>
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(v) ? null : `not a DNS domain: ${JSON.stringify(v)}`;
const url = (v: string): string | null => (v === '' || /^https?:\/\/[^\s/]+(\/.*)?$/.test(v) ? null : `must be an http(s) URL, got ${JSON.stringify(v)}`);

const port = (d: number): FieldSpec => ({ kind: 'number', integer: true, min: 1, max: 65535, default: d });
const service = (p: number, extra: Record<string, FieldSpec> = {}): FieldSpec => ({
  kind: 'object',
  fields: { enabled: { kind: 'boolean', default: true }, bind: { kind: 'string', default: '0.0.0.0', check: ipv4 }, port: port(p), ...extra },
});

/** Field specification of Config (defaults for a lab admin network). */
export const configSpec: FieldSpec = {
  kind: 'object',
  fields: {
    data_dir: { kind: 'string', default: '/var/lib/crowbar', check: nonEmpty },
    log_level: { kind: 'enum', values: ['debug', 'info', 'warn', 'error'], default: 'info' },
    admin_network: {
      kind: 'object',
      fields: {
        interface: { kind: 'string', default: 'eth0', check: nonEmpty },
        address: { kind: 'string', default: '192.168.124.10/24', check: cidr },
        domain: { kind: 'string', default: 'crowbar.test', check: domain },
        router: { kind: 'string', optional: true, check: ipv4 },
        host_range_start: { kind: 'string', default: '', check: (v) => (v === '' ? null : ipv4(v)) },
        host_range_end: { kind: 'string', default: '', check: (v) => (v === '' ? null : ipv4(v)) },
      },
    },
    discovery: {
      kind: 'object',
      fields: {
        image_dir: { kind: 'string', default: '', check: () => null },
        image_cache: { kind: 'string', default: '/var/cache/crowbar/discovery/image', check: () => null },
        templates_dir: { kind: 'string', default: '', check: () => null },
        kernel_args: { kind: 'string', default: 'console=tty0 console=ttyS0,115200n8', check: (v) => (/^[\x20-\x7e]*$/.test(v) && !/[{}$]/.test(v) ? null : 'printable ASCII without {, } or $') },
        poll_seconds: { kind: 'number', integer: true, min: 1, max: 3600, default: 5 },
        max_body_bytes: { kind: 'number', integer: true, min: 4096, max: 1048576, default: 65536 },
        rate_per_minute: { kind: 'number', integer: true, min: 1, max: 100000, default: 60 },
        log_cap_bytes: { kind: 'number', integer: true, min: 4096, max: 104857600, default: 1048576 },
      },
    },
    services: {
      kind: 'object',
      fields: {
        dhcp: service(67, {
          mode: { kind: 'enum', values: ['full', 'proxy'], default: 'full' },
          proxy_port: port(4011),
          client_port: port(68),
          lease_seconds: { kind: 'number', integer: true, min: 10, max: 31_536_000, default: 3600 },
          offer_hold_seconds: { kind: 'number', integer: true, min: 1, max: 600, default: 30 },
          range_start: { kind: 'string', default: '', check: (v) => (v === '' ? null : ipv4(v)) },
          range_end: { kind: 'string', default: '', check: (v) => (v === '' ? null : ipv4(v)) },
          relays: {
            kind: 'list',
            default: [],
            of: {
              kind: 'object',
              fields: {
                subnet: { kind: 'string', check: cidr },
                range_start: { kind: 'string', check: ipv4 },
                range_end: { kind: 'string', check: ipv4 },
                router: { kind: 'string', optional: true, check: ipv4 },
              },
            },
          },
          efi_loader: { kind: 'enum', values: ['snponly.efi', 'ipxe.efi'], default: 'snponly.efi' },
          decline_seconds: { kind: 'number', integer: true, min: 1, max: 86_400, default: 600 },
          max_offers: { kind: 'number', integer: true, min: 16, max: 1_000_000, default: 16_384 },
        }),
        tftp: service(69, {
          root: { kind: 'string', default: '', check: () => null },
          ipxe_dir: { kind: 'string', default: '/usr/lib/ipxe', check: nonEmpty },
          max_blksize: { kind: 'number', integer: true, min: 512, max: 65464, default: 65464 },
          max_windowsize: { kind: 'number', integer: true, min: 1, max: 65535, default: 64 },
          timeout_ms: { kind: 'number', integer: true, min: 20, max: 60_000, default: 1000 },
          max_timeout_ms: { kind: 'number', integer: true, min: 20, max: 255_000, default: 8000 },
          retries: { kind: 'number', integer: true, min: 1, max: 50, default: 5 },
          max_transfers: { kind: 'number', integer: true, min: 1, max: 100_000, default: 1000 },
          requests_per_second: { kind: 'number', integer: true, min: 1, max: 100_000, default: 50 },
          prefix_roots: {
            kind: 'list',
            default: [],
            of: {
              kind: 'object',
              fields: {
                prefix: { kind: 'string', check: (v) => (/^[A-Za-z0-9._-]+$/.test(v) && v !== '.' && v !== '..' ? null : `bad prefix ${JSON.stringify(v)}`) },
                dir: { kind: 'string', check: nonEmpty },
              },
            },
          },
        }),
        dns: service(53, { forwarders: { kind: 'list', of: { kind: 'string', check: ipv4 }, default: [] } }),
        ntp: service(123, { local_reference: { kind: 'boolean', default: true } }),
        http: service(80, { public_url: { kind: 'string', default: '', check: url } }),
      },
    },
  },
};
