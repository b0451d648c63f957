import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { forwardingNetworks } from '../../src/services/dns.js';
import { parseHostPort } from '../../src/services/hostport.js';

describe('dns service configuration', () => {
  const cfg = buildConfig({
    admin_network: { address: '192.168.124.10/24', domain: 'crowbar.test' },
    services: {
      dhcp: { relays: [{ subnet: '10.20.0.0/16', range_start: '10.20.1.1', range_end: '10.20.1.200' }] },
      dns: { forwarders: ['192.0.2.53', '192.0.2.54:5353'], aliases: [{ name: 'www', target: 'admin' }] },
      ntp: { upstreams: ['192.0.2.123'] },
    },
  });

  it('forwards only for the admin subnet, relayed subnets and loopback', () => {
    const may = forwardingNetworks(cfg);
    expect(may('192.168.124.77')).toBe(true);
    expect(may('10.20.5.5')).toBe(true);
    expect(may('127.0.0.1')).toBe(true);
    expect(may('192.168.125.1')).toBe(false);
    expect(may('8.8.8.8')).toBe(false);
    expect(may('::1')).toBe(false);
  });

  it('parses forwarders and upstreams with optional ports, and rejects bad ones', () => {
    expect(cfg.services.dns.forwarders.map((f) => parseHostPort(f, 53))).toEqual([
      { address: '192.0.2.53', port: 53 },
      { address: '192.0.2.54', port: 5353 },
    ]);
    expect(parseHostPort(cfg.services.ntp.upstreams[0], 123)).toEqual({ address: '192.0.2.123', port: 123 });
    expect(() => buildConfig({ services: { dns: { forwarders: ['resolver.example'] } } })).toThrow(/forwarders/);
    expect(() => buildConfig({ services: { dns: { forwarders: ['1.2.3.4:99999'] } } })).toThrow(/forwarders/);
    expect(() => buildConfig({ services: { ntp: { upstreams: ['1.2.3'] } } })).toThrow(/upstreams/);
    expect(cfg.services.dns.rate_limit).toBe(2000);
    expect(cfg.services.ntp.rate_limit).toBe(16);
  });
});
