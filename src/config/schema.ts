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
    };
    tftp: ServiceBase & {
      /** Directory of boot loaders served over TFTP. */
      root: string;
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
    services: {
      kind: 'object',
      fields: {
        dhcp: service(67, {
          mode: { kind: 'enum', values: ['full', 'proxy'], default: 'full' },
          proxy_port: port(4011),
          client_port: port(68),
          lease_seconds: { kind: 'number', integer: true, min: 60, max: 31_536_000, default: 3600 },
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
        }),
        tftp: service(69, { root: { kind: 'string', default: '', check: () => null } }),
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
        http: service(80, { public_url: { kind: 'string', default: '', check: url } }),
      },
    },
  },
};
