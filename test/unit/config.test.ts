import { describe, expect, it } from 'vitest';
import { buildConfig, parseConfigText } from '../../src/config/load.js';
import { isCrowbarError } from '../../src/lib/errors.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/appliance.js';

function errorOf(raw: unknown): string {
  try {
    buildConfig(raw);
  } catch (e) {
    expect(isCrowbarError(e, 'config.invalid')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected a config error');
}

describe('config', () => {
  it('builds a frozen config with defaults derived from the admin network', () => {
    const c = buildConfig({ data_dir: '/tmp/x', admin_network: { address: '10.1.0.1/24', domain: 'lab.test' } });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.services.dhcp)).toBe(true);
    expect(c.services.dhcp.range_start).toBe('10.1.0.128');
    expect(c.services.dhcp.range_end).toBe('10.1.0.254');
    expect(c.admin_network.host_range_start).toBe('10.1.0.10');
    expect(c.admin_network.host_range_end).toBe('10.1.0.127');
    expect(c.services.http.public_url).toBe('http://10.1.0.1');
    expect(c.services.tftp.root).toBe('/tmp/x/tftp');
    expect(c.services.tftp.workers).toBe(0);
    expect(c.services.http).toMatchObject({ machine_queue: 256, retry_after_seconds: 2, operator_port: 0 });
    expect(() => {
      (c as any).services.dhcp.port = 1;
    }).toThrow();
  });

  it('names an unknown key with its full path', () => {
    expect(errorOf({ services: { dhcp: { prot: 67 } } })).toMatch(/services\.dhcp\.prot: unknown key/);
    expect(errorOf({ bogus: 1 })).toMatch(/bogus: unknown key/);
  });

  it('validates the TFTP worker count (-1 = one per CPU, 0 = in process)', () => {
    expect(buildConfig({ services: { tftp: { workers: 0 } } }).services.tftp.workers).toBe(0);
    expect(buildConfig({ services: { tftp: { workers: 4 } } }).services.tftp.workers).toBe(4);
    expect(errorOf({ services: { tftp: { workers: -2 } } })).toMatch(/services\.tftp\.workers: must be >= -1/);
    expect(errorOf({ services: { tftp: { workers: 1.5 } } })).toMatch(/services\.tftp\.workers: must be an integer/);
    expect(errorOf({ services: { tftp: { workers: 65 } } })).toMatch(/services\.tftp\.workers: must be <= 64/);
  });

  it('validates the TFTP datagram path (default auto)', () => {
    expect(buildConfig({}).services.tftp.datagram).toBe('auto');
    expect(buildConfig({ services: { tftp: { datagram: 'native' } } }).services.tftp.datagram).toBe('native');
    expect(buildConfig({ services: { tftp: { datagram: 'dgram' } } }).services.tftp.datagram).toBe('dgram');
    expect(errorOf({ services: { tftp: { datagram: 'recvmmsg' } } })).toMatch(/services\.tftp\.datagram/);
  });

  it('rejects a bad port', () => {
    expect(errorOf({ services: { tftp: { port: 70000 } } })).toMatch(/services\.tftp\.port: must be <= 65535/);
    expect(errorOf({ services: { tftp: { port: 'x' } } })).toMatch(/services\.tftp\.port: must be a number/);
    expect(errorOf({ services: { dns: { port: 5.5 } } })).toMatch(/services\.dns\.port: must be an integer/);
  });

  it('rejects a bad CIDR and addresses', () => {
    expect(errorOf({ admin_network: { address: '10.1.0.1/33' } })).toMatch(/admin_network\.address: not an IPv4 CIDR/);
    expect(errorOf({ admin_network: { address: '10.1.0/24' } })).toMatch(/admin_network\.address/);
    expect(errorOf({ services: { dhcp: { bind: '1.2.3' } } })).toMatch(/services\.dhcp\.bind: must be an IPv4 address/);
    expect(errorOf({ services: { dhcp: { relays: [{ subnet: '10.9.0.0/24', range_start: '10.9.1.1', range_end: '10.9.0.9' }] } } })).toMatch(
      /relays\[0\]\.range_start: 10\.9\.1\.1 is outside/,
    );
  });

  it('rejects a pool outside the subnet or overlapping the host range', () => {
    expect(errorOf({ admin_network: { address: '10.1.0.1/24' }, services: { dhcp: { range_start: '10.2.0.1', range_end: '10.2.0.9' } } })).toMatch(
      /services\.dhcp\.range_start: 10\.2\.0\.1 is outside/,
    );
    expect(errorOf({ admin_network: { address: '10.1.0.1/24' }, services: { dhcp: { range_start: '10.1.0.20', range_end: '10.1.0.200' } } })).toMatch(/overlaps/);
  });

  it('rejects bad enums, booleans and domains', () => {
    expect(errorOf({ services: { dhcp: { mode: 'half' } } })).toMatch(/services\.dhcp\.mode: must be one of full, proxy/);
    expect(errorOf({ services: { ntp: { enabled: 'yes' } } })).toMatch(/services\.ntp\.enabled: must be true or false/);
    expect(errorOf({ admin_network: { domain: 'bad domain' } })).toMatch(/admin_network\.domain/);
  });

  it('parses YAML and reports syntax errors', () => {
    expect(parseConfigText('a: 1\n')).toEqual({ a: 1 });
    expect(() => parseConfigText('a: [1,\n', 'x.yaml')).toThrow(/x\.yaml: cannot parse/);
  });

  it('the example config in the repository is valid', () => {
    const text = readFileSync(join(ROOT, 'crowbar.example.yaml'), 'utf8');
    const c = buildConfig(parseConfigText(text));
    expect(c.admin_network.domain).toBe('crowbar.test');
  });
});
