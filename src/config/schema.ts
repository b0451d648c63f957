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
    /** Build cache of images/build-root-image.sh (crowbar-os.json + root.tar.zst), imported as an OS medium at start when new. */
    root_image_cache: string;
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
      /** Worker threads running transfers: -1 = one per CPU the process may use, 0 = all on the main thread. */
      workers: number;
      /** Datagram path of transfer sockets: the native addon (recvmmsg/send), node:dgram, or auto (native when the addon loads). */
      datagram: 'auto' | 'native' | 'dgram';
      /** Extra directories served under a path prefix (TFTP and /boot/files/), besides discovery/. */
      prefix_roots: Array<{ prefix: string; dir: string }>;
    };
    dns: ServiceBase & {
      /** Upstream resolvers (`a.b.c.d` or `a.b.c.d:port`) for admin-network clients; empty: not a resolver at all. */
      forwarders: string[];
      /** Queries per second allowed per source address (0: no limit). */
      rate_limit: number;
      /** TTL of our records and of negative answers, seconds. */
      ttl: number;
      /** Extra CNAMEs: name -> target (relative names are under the admin domain). */
      aliases: Array<{ name: string; target: string }>;
    };
    ntp: ServiceBase & {
      /** Declare the appliance's clock the local reference (stratum 10, LOCL). */
      local_reference: boolean;
      /** Requests per second allowed per source address before KoD RATE (0: no limit). */
      rate_limit: number;
      /** Upstream servers to follow in client mode (`a.b.c.d` or `a.b.c.d:port`), set by the ntp barclamp. */
      upstreams: string[];
      /** Poll interval for upstreams, seconds. */
      poll_seconds: number;
    };
    http: ServiceBase & {
      /** URL nodes use to reach the appliance; derived from admin_network.address and port when empty. */
      public_url: string;
      /** Machine requests queued behind the operator's before agent polls get 503 (0: no admission control; src/api/admission.ts). */
      machine_queue: number;
      /** Retry-After (seconds) of a refused agent poll. */
      retry_after_seconds: number;
      /** A second port with the same API and console for operators, with its own accept queue (0: none). */
      operator_port: number;
      /** File bodies of /boot/files and /os: sendfile(2) through the native addon when it loads (auto), or always streamed (off). */
      sendfile: 'auto' | 'off';
    };
    /** BMC power control (docs/ipmi.md). */
    power: {
      enabled: boolean;
      /** AES-256-GCM key for BMC passwords; empty: <data_dir>/keys/bmc.key (created 0600 on first start). */
      key_file: string;
      /** Driver for nodes whose BMC is configured without one. */
      default_driver: 'ipmi' | 'ipmitool' | 'manual';
      /** User name the appliance creates on each BMC (generated password per node). */
      bmc_user: string;
      /** IPMI LAN channel configured during hardware-install. */
      bmc_channel: number;
      /** Our RMCP+ client: cipher suite, per-reply timeout, retransmissions. */
      ipmi: { cipher_suite: number; timeout_ms: number; retries: number };
      /** The ipmitool driver: binary and cipher suite (-C). */
      ipmitool: { path: string; cipher_suite: number; timeout_ms: number };
      /** Desired-state polling: interval and how long on/off/cycle and soft off may take. */
      poll_interval_ms: number;
      state_timeout_ms: number;
      soft_timeout_ms: number;
      /** Minimum gap between two sessions to one BMC. */
      pace_ms: number;
      /** Whole-operation retries after a BMC error. */
      retries: number;
      /** Re-check faulted BMCs this often (0 = never). */
      recheck_interval_s: number;
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
const ipv4port = (v: string): string | null => {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(v);
  return m && isIPv4(m[1]) && (!m[2] || (Number(m[2]) >= 1 && Number(m[2]) <= 65535)) ? null : `must be an IPv4 address with optional :port, got ${JSON.stringify(v)}`;
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
        root_image_cache: { kind: 'string', default: '/var/cache/crowbar/root-image/image', check: () => null },
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
          workers: { kind: 'number', integer: true, min: -1, max: 64, default: 0 },
          datagram: { kind: 'enum', values: ['auto', 'native', 'dgram'], default: 'auto' },
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
        dns: service(53, {
          forwarders: { kind: 'list', of: { kind: 'string', check: ipv4port }, default: [] },
          rate_limit: { kind: 'number', integer: true, min: 0, max: 10_000_000, default: 2000 },
          ttl: { kind: 'number', integer: true, min: 0, max: 86400, default: 60 },
          aliases: {
            kind: 'list',
            default: [],
            of: { kind: 'object', fields: { name: { kind: 'string', check: domain }, target: { kind: 'string', check: domain } } },
          },
        }),
        ntp: service(123, {
          local_reference: { kind: 'boolean', default: true },
          rate_limit: { kind: 'number', integer: true, min: 0, max: 10_000_000, default: 16 },
          upstreams: { kind: 'list', of: { kind: 'string', check: ipv4port }, default: [] },
          poll_seconds: { kind: 'number', integer: true, min: 1, max: 65536, default: 64 },
        }),
        http: service(80, {
          public_url: { kind: 'string', default: '', check: url },
          machine_queue: { kind: 'number', integer: true, min: 0, max: 100_000, default: 256 },
          retry_after_seconds: { kind: 'number', integer: true, min: 1, max: 300, default: 2 },
          operator_port: { kind: 'number', integer: true, min: 0, max: 65535, default: 0 },
          sendfile: { kind: 'enum', values: ['auto', 'off'], default: 'auto' },
        }),
        power: {
          kind: 'object',
          fields: {
            enabled: { kind: 'boolean', default: true },
            key_file: { kind: 'string', default: '', check: () => null },
            default_driver: { kind: 'enum', values: ['ipmi', 'ipmitool', 'manual'], default: 'ipmi' },
            bmc_user: { kind: 'string', default: 'crowbar', check: (v) => (/^[A-Za-z0-9_.-]{1,16}$/.test(v) ? null : 'must be 1-16 letters, digits, _ . -') },
            bmc_channel: { kind: 'number', integer: true, min: 1, max: 15, default: 1 },
            ipmi: {
              kind: 'object',
              fields: {
                cipher_suite: { kind: 'number', integer: true, min: 3, max: 17, default: 3 },
                timeout_ms: { kind: 'number', integer: true, min: 50, max: 30_000, default: 1000 },
                retries: { kind: 'number', integer: true, min: 0, max: 10, default: 3 },
              },
            },
            ipmitool: {
              kind: 'object',
              fields: {
                path: { kind: 'string', default: 'ipmitool', check: nonEmpty },
                cipher_suite: { kind: 'number', integer: true, min: 0, max: 17, default: 3 },
                timeout_ms: { kind: 'number', integer: true, min: 1000, max: 300_000, default: 30_000 },
              },
            },
            poll_interval_ms: { kind: 'number', integer: true, min: 50, max: 60_000, default: 1000 },
            state_timeout_ms: { kind: 'number', integer: true, min: 100, max: 600_000, default: 30_000 },
            soft_timeout_ms: { kind: 'number', integer: true, min: 100, max: 3_600_000, default: 300_000 },
            pace_ms: { kind: 'number', integer: true, min: 0, max: 60_000, default: 200 },
            retries: { kind: 'number', integer: true, min: 0, max: 10, default: 1 },
            recheck_interval_s: { kind: 'number', integer: true, min: 0, max: 86_400, default: 300 },
          },
        },
      },
    },
  },
};
