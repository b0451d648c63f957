import { describe, expect, it } from 'vitest';
import { checkSchema, validateSchema, type JsonSchema } from '../../src/barclamps/jsonschema.js';
import { parseInterfaceRef, resolveConduits, resolveRef, selectConduits, type ConduitMapEntry, type Nic } from '../../src/barclamps/conduits.js';
import { interfacePlan, networkProblems, type NetworkDef } from '../../src/barclamps/networks.js';

describe('JSON schema subset', () => {
  const schema: JsonSchema = {
    type: 'object',
    required: ['attributes'],
    additionalProperties: false,
    properties: {
      attributes: {
        type: 'object',
        properties: {
          ntp: {
            type: 'object',
            required: ['servers', 'mode'],
            additionalProperties: false,
            properties: {
              servers: { type: 'array', maxItems: 3, items: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+$' } },
              mode: { type: 'string', enum: ['client', 'server'] },
              poll: { type: 'integer', minimum: 4, maximum: 17 },
              extra: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
  };

  it('accepts a valid document', () => {
    expect(validateSchema(schema, { attributes: { ntp: { servers: ['10.0.0.1'], mode: 'client', poll: 6, extra: null } } })).toEqual([]);
  });

  it('points every error at its field path', () => {
    const errs = validateSchema(schema, { attributes: { ntp: { servers: ['10.0.0.1', 'pool'], mode: 'peer', poll: 2.5, bogus: 1 } }, more: 1 });
    const byPath = Object.fromEntries(errs.map((e) => [e.path, e.message]));
    expect(byPath['attributes.ntp.servers[1]']).toMatch(/must match/);
    expect(byPath['attributes.ntp.mode']).toMatch(/must be one of "client", "server", got "peer"/);
    expect(byPath['attributes.ntp.poll']).toMatch(/must be integer, got number/);
    expect(byPath['attributes.ntp.bogus']).toMatch(/unknown field/);
    expect(byPath.more).toMatch(/unknown field/);
    expect(validateSchema(schema, { attributes: { ntp: { servers: [] } } })).toEqual([{ path: 'attributes.ntp.mode', message: 'is required' }]);
    expect(validateSchema(schema, { attributes: { ntp: { servers: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4'], mode: 'client', poll: 40 } } }).map((e) => e.path)).toEqual([
      'attributes.ntp.servers',
      'attributes.ntp.poll',
    ]);
  });

  it('refuses unsupported keywords and bad patterns in a schema', () => {
    expect(checkSchema({ type: 'object', anyOf: [] })[0]).toMatch(/unsupported keyword "anyOf"/);
    expect(checkSchema({ properties: { a: { type: 'float' } } })[0]).toMatch(/#\/properties\/a\/type: unknown type "float"/);
    expect(checkSchema({ pattern: '(' })[0]).toMatch(/not a valid regular expression/);
  });
});

const nic = (name: string, speed?: number): Nic => ({ name, mac: `52:54:00:00:00:${name.slice(-1).padStart(2, '0')}`, speed_mbps: speed });

describe('conduits', () => {
  const two1g = [nic('eth0', 1000), nic('eth1', 1000)];
  const two10g = [nic('eth0', 10000), nic('eth1', 10000)];
  const mixed = [nic('eth2', 10000), nic('eth0', 1000), nic('eth1', 1000), nic('eth10', 10000)];

  it('parses references', () => {
    expect(parseInterfaceRef('+10g1')).toEqual({ sign: '+', speed: 10000, index: 1 });
    expect(parseInterfaceRef('?1g2')).toEqual({ sign: '?', speed: 1000, index: 2 });
    expect(() => parseInterfaceRef('eth0')).toThrow(/expected \[\?\+-\]<speed><n>/);
  });

  it('resolves 1g/10g/+/-/? against 2x1g, 2x10g and mixed NICs', () => {
    expect(resolveRef('1g1', two1g)?.name).toBe('eth0');
    expect(resolveRef('1g2', two1g)?.name).toBe('eth1');
    expect(resolveRef('10g1', two1g)).toBeUndefined();
    expect(resolveRef('+1g1', two10g)?.name).toBe('eth0');
    expect(resolveRef('1g1', two10g)).toBeUndefined();
    expect(resolveRef('?1g2', two10g)?.name).toBe('eth1');
    // mixed: natural order eth0 eth1 eth2 eth10
    expect(resolveRef('10g1', mixed)?.name).toBe('eth2');
    expect(resolveRef('10g2', mixed)?.name).toBe('eth10');
    expect(resolveRef('1g2', mixed)?.name).toBe('eth1');
    expect(resolveRef('+10g1', mixed)?.name).toBe('eth2');
    expect(resolveRef('-1g2', mixed)?.name).toBe('eth1');
    expect(resolveRef('?1g3', mixed)?.name).toBe('eth2');
    expect(resolveRef('1g1', [nic('eth0')])).toBeUndefined();
    expect(resolveRef('?1g1', [nic('eth0')])?.name).toBe('eth0');
  });

  it('one conduit list fits every server: fast NICs teamed, slow NIC for admin', () => {
    const list = { intf0: { if_list: ['1g1'] }, intf1: { if_list: ['+10g1', '+10g2'], team_mode: 4 }, intf2: { if_list: ['?1g1'] } };
    const m = resolveConduits(list, mixed);
    expect(m.intf0).toEqual({ conduit: 'intf0', interfaces: ['eth0'], missing: [] });
    expect(m.intf1).toEqual({ conduit: 'intf1', interfaces: ['eth2', 'eth10'], missing: [], team: { name: 'bond0', mode: 4 } });
    const t = resolveConduits(list, two10g);
    expect(t.intf0.interfaces).toEqual([]);
    expect(t.intf0.missing).toEqual(['1g1']);
    expect(t.intf1.team).toEqual({ name: 'bond0', mode: 4 });
    const o = resolveConduits(list, two1g);
    expect(o.intf1.interfaces).toEqual([]);
    expect(o.intf2.interfaces).toEqual(['eth0']);
  });

  it('selects the conduit list by mode/nic count/node and plans interfaces with VLANs and bonds', () => {
    const map: ConduitMapEntry[] = [
      { pattern: 'team/.*/.*', conduit_list: { intf0: { if_list: ['+1g1', '+1g2'], team_mode: 6 } } },
      { pattern: 'single/.*/.*', conduit_list: { intf0: { if_list: ['?1g1'] }, intf1: { if_list: ['?1g1'] } } },
    ];
    expect(() => selectConduits(map, 'dual', 2, 'n1')).toThrow(/no conduit_map entry matches dual\/2\/n1/);
    const single = resolveConduits(selectConduits(map, 'single', 2, 'n1'), two1g);
    const networks: Record<string, NetworkDef> = {
      admin: { conduit: 'intf0', vlan: 100, use_vlan: false, add_bridge: false, subnet: '10.0.0.0', netmask: '255.255.255.0', router: '10.0.0.1', ranges: { host: { start: '10.0.0.10', end: '10.0.0.99' } } },
      storage: { conduit: 'intf1', vlan: 200, use_vlan: true, add_bridge: false, subnet: '10.0.1.0', netmask: '255.255.255.0', ranges: { host: { start: '10.0.1.10', end: '10.0.1.99' } } },
    };
    const plan = interfacePlan(networks, single, { admin: '10.0.0.10', storage: '10.0.1.10' });
    expect(plan.map((p) => [p.network, p.device, p.vlan])).toEqual([
      ['admin', 'eth0', null],
      ['storage', 'eth0.200', 200],
    ]);
    const team = resolveConduits(selectConduits(map, 'team', 2, 'n1'), two10g);
    expect(interfacePlan({ admin: networks.admin }, team, { admin: '10.0.0.11' })[0]).toMatchObject({ device: 'bond0', members: ['eth0', 'eth1'], team: { mode: 6 } });
  });

  it('checks network definitions', () => {
    const bad: Record<string, NetworkDef> = {
      public: { conduit: 'intf9', vlan: 5000, use_vlan: true, add_bridge: false, subnet: '10.0.0.5', netmask: '255.0.255.0', ranges: {} },
      storage: { conduit: 'intf0', vlan: 200, use_vlan: true, add_bridge: false, subnet: '10.1.0.0', netmask: '255.255.0.0', router: '10.2.0.1', ranges: { host: { start: '10.1.0.10', end: '10.1.0.50' }, dhcp: { start: '10.1.0.20', end: '10.1.0.30' }, switch: { start: '10.1.0.90', end: '10.1.0.80' } } },
    };
    const errs = networkProblems(bad, new Set(['intf0']), 'attributes.network.networks').map((e) => `${e.path}: ${e.message}`);
    expect(errs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/networks.public.conduit: unknown conduit "intf9"/),
        expect.stringMatching(/networks.public.netmask: 255.0.255.0 is not a contiguous netmask/),
        expect.stringMatching(/networks.storage.router: 10.2.0.1 is not inside/),
        expect.stringMatching(/networks.storage.ranges.switch.start: 10.1.0.90 is after 10.1.0.80/),
        expect.stringMatching(/networks.storage.ranges.dhcp: overlaps range host/),
      ]),
    );
  });
});
