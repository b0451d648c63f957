import { describe, expect, it } from 'vitest';
import { Authority } from '../../src/protocols/dns/authority.js';
import { decodeMessage, encodeMessage } from '../../src/protocols/dns/codec.js';
import { parseFastQuery } from '../../src/protocols/dns/fastpath.js';
import { CLASS_IN, Rcode, RRType, type DnsMessage } from '../../src/protocols/dns/message.js';
import { DnsServer } from '../../src/protocols/dns/server.js';
import { buildZones, reverseZonesOf, StoreZoneSource } from '../../src/services/dns-zones.js';
import { parseCidr } from '../../src/lib/ip.js';
import { ManualClock } from '../../src/lib/clock.js';
import { nullLogger } from '../../src/lib/logger.js';
import { RateLimiter } from '../../src/lib/rate.js';

const settings = { domain: 'crowbar.test', adminAddress: '10.7.0.10/24', extraSubnets: ['10.9.0.0/22'], aliases: [{ name: 'www', target: 'd1' }], ttl: 60 };
const nodes = [
  { id: 1, name: 'd1.crowbar.test' },
  { id: 2, name: 'd2.crowbar.test' },
];
const allocs = [
  { network: 'admin', address: '10.7.0.21', node_id: 1, created_at: 0 },
  { network: 'admin', address: '10.7.0.22', node_id: 2, created_at: 0 },
  { network: 'storage', address: '192.168.5.21', node_id: 1, created_at: 0 },
];

function q(name: string, type: number, edns = false): DnsMessage {
  const m: DnsMessage = {
    id: 77,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authority: [],
    additional: [],
  };
  if (edns) m.edns = { udpSize: 1232, extRcode: 0, version: 0, do: false, options: Buffer.alloc(0) };
  return m;
}

const auth = new Authority(buildZones(settings, nodes, allocs, 5));

describe('zones from the store', () => {
  it('makes octet-aligned reverse zones', () => {
    expect(reverseZonesOf(parseCidr('10.7.0.0/24'))).toEqual(['0.7.10.in-addr.arpa']);
    expect(reverseZonesOf(parseCidr('10.9.0.0/22'))).toEqual(['0.9.10.in-addr.arpa', '1.9.10.in-addr.arpa', '2.9.10.in-addr.arpa', '3.9.10.in-addr.arpa']);
    expect(reverseZonesOf(parseCidr('127.0.0.1/8'))).toEqual(['127.in-addr.arpa']);
  });

  it('serves the domain, admin/relay reverse zones and other networks', () => {
    expect(auth.origins()).toContain('crowbar.test');
    expect(auth.origins()).toContain('0.7.10.in-addr.arpa');
    expect(auth.origins()).toContain('5.168.192.in-addr.arpa');
    const a = auth.lookup(q('D1.crowbar.test', RRType.A))!;
    expect(a.flags.aa).toBe(true);
    expect(a.answers.map((r) => r.data)).toEqual([{ kind: 'a', address: '10.7.0.21' }]);
    const ptr = auth.lookup(q('21.0.7.10.in-addr.arpa', RRType.PTR))!;
    expect(ptr.answers[0].data).toEqual({ kind: 'name', target: 'd1.crowbar.test' });
    const st = auth.lookup(q('d1.storage.crowbar.test', RRType.A))!;
    expect(st.answers[0].data).toEqual({ kind: 'a', address: '192.168.5.21' });
    const sptr = auth.lookup(q('21.5.168.192.in-addr.arpa', RRType.PTR))!;
    expect(sptr.answers[0].data).toEqual({ kind: 'name', target: 'd1.storage.crowbar.test' });
    const self = auth.lookup(q('admin.crowbar.test', RRType.A))!;
    expect(self.answers[0].data).toEqual({ kind: 'a', address: '10.7.0.10' });
  });

  it('NXDOMAIN vs NODATA vs empty non-terminal, SOA in authority (RFC 2308, RFC 8020)', () => {
    const nx = auth.lookup(q('nope.crowbar.test', RRType.A))!;
    expect(nx.flags.rcode).toBe(Rcode.NXDOMAIN);
    expect(nx.answers).toEqual([]);
    expect(nx.authority.map((r) => r.type)).toEqual([RRType.SOA]);
    const nodata = auth.lookup(q('d1.crowbar.test', RRType.AAAA))!;
    expect(nodata.flags.rcode).toBe(Rcode.NOERROR);
    expect(nodata.answers).toEqual([]);
    expect(nodata.authority[0].type).toBe(RRType.SOA);
    expect(nodata.authority[0].ttl).toBe(60);
    const ent = auth.lookup(q('storage.crowbar.test', RRType.A))!;
    expect(ent.flags.rcode).toBe(Rcode.NOERROR);
    expect(ent.authority[0].type).toBe(RRType.SOA);
    expect(auth.lookup(q('example.com', RRType.A))).toBeNull();
  });

  it('chases CNAMEs (aliases) and adds glue to NS answers', () => {
    const c = auth.lookup(q('www.crowbar.test', RRType.A))!;
    expect(c.answers.map((r) => r.type)).toEqual([RRType.CNAME, RRType.A]);
    const c2 = auth.lookup(q('crowbar.crowbar.test', RRType.A))!;
    expect(c2.answers.map((r) => [r.name, r.type])).toEqual([
      ['crowbar.crowbar.test', RRType.CNAME],
      ['admin.crowbar.test', RRType.A],
    ]);
    const ns = auth.lookup(q('crowbar.test', RRType.NS))!;
    expect(ns.answers[0].data).toEqual({ kind: 'name', target: 'admin.crowbar.test' });
    expect(ns.additional[0].data).toEqual({ kind: 'a', address: '10.7.0.10' });
    const soa = auth.lookup(q('crowbar.test', RRType.SOA))!;
    expect(soa.answers[0].data.kind).toBe('soa');
  });

  it('CNAME loops end', () => {
    const loop = new Authority(buildZones({ ...settings, aliases: [{ name: 'a', target: 'b' }, { name: 'b', target: 'a' }] }, [], [], 1));
    const r = loop.lookup(q('a.crowbar.test', RRType.A))!;
    expect(r.answers.length).toBeLessThanOrEqual(8);
  });
});

describe('server answers (in process)', () => {
  const clock = new ManualClock();
  const server = new DnsServer({ bind: '127.0.0.1', port: 0, source: { current: () => auth }, clock, log: nullLogger });

  it('fast path gives the same bytes as the full path', () => {
    for (const [name, type, edns] of [
      ['d1.crowbar.test', RRType.A, false],
      ['D2.Crowbar.Test', RRType.A, true],
      ['22.0.7.10.in-addr.arpa', RRType.PTR, true],
      ['d1.crowbar.test', RRType.AAAA, true],
      ['www.crowbar.test', RRType.A, false],
    ] as const) {
      const req = encodeMessage(q(name, type, edns));
      expect(parseFastQuery(req)).not.toBeNull();
      const before = server.stats.fast;
      const slow = server.handle(req, '127.0.0.1', true) as Buffer;
      const fast = server.handle(req, '127.0.0.1', true) as Buffer;
      expect(server.stats.fast).toBe(before + 1);
      expect(fast.toString('hex')).toBe(slow.toString('hex'));
      const m = decodeMessage(fast);
      expect(m.questions[0].name).toBe(name); // client's spelling kept
      expect(m.id).toBe(77);
      expect(m.flags.rd).toBe(true);
      expect(!!m.edns).toBe(edns);
    }
  });

  it('REFUSED outside our zones, FORMERR for garbage, silence for responses and runts', () => {
    const r = decodeMessage(server.handle(encodeMessage(q('example.com', RRType.A)), '127.0.0.1', true) as Buffer);
    expect(r.flags.rcode).toBe(Rcode.REFUSED);
    const bad = Buffer.from(encodeMessage(q('x.crowbar.test', RRType.A)));
    bad.writeUInt16BE(9, 4); // lying QDCOUNT
    const f = server.handle(bad, '127.0.0.1', true) as Buffer;
    expect(f.length).toBe(12);
    expect(f[3] & 0xf).toBe(Rcode.FORMERR);
    expect(server.handle(Buffer.alloc(5), '127.0.0.1', true)).toBeNull();
    const resp = Buffer.from(encodeMessage(q('x.crowbar.test', RRType.A)));
    resp[2] |= 0x80;
    expect(server.handle(resp, '127.0.0.1', true)).toBeNull();
    const v1 = q('d1.crowbar.test', RRType.A, true);
    v1.edns!.version = 1;
    const bv = decodeMessage(server.handle(encodeMessage(v1), '127.0.0.1', true) as Buffer);
    expect(bv.edns?.extRcode).toBe(1); // BADVERS = 16
    const axfr = decodeMessage(server.handle(encodeMessage(q('crowbar.test', RRType.AXFR)), '127.0.0.1', false) as Buffer);
    expect(axfr.flags.rcode).toBe(Rcode.REFUSED);
  });

  it('store-backed source rebuilds only when the store marker moves', () => {
    let marker = 'a';
    let names = [...nodes];
    const src = new StoreZoneSource(settings, { marker: () => marker, names: () => names, allocations: () => allocs }, clock, nullLogger);
    const first = src.current();
    src.refresh();
    expect(src.current()).toBe(first);
    names = [{ id: 1, name: 'renamed.crowbar.test' }, nodes[1]];
    marker = 'b';
    src.refresh();
    const second = src.current();
    expect(second).not.toBe(first);
    expect(second.lookup(q('renamed.crowbar.test', RRType.A))!.answers.length).toBe(1);
    expect(second.lookup(q('d1.crowbar.test', RRType.A))!.flags.rcode).toBe(Rcode.NXDOMAIN);
    expect(second.serial).toBeGreaterThan(first.serial);
  });
});

describe('rate limiting', () => {
  it('drops queries over the per-source rate with a bounded table', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(5, 10, 16);
    const server = new DnsServer({ bind: '127.0.0.1', port: 0, source: { current: () => auth }, clock, log: nullLogger, limiter });
    await server.start();
    try {
      const dgram = await import('node:dgram');
      const c = dgram.createSocket('udp4');
      let got = 0;
      c.on('message', () => got++);
      const req = encodeMessage(q('d1.crowbar.test', RRType.A));
      for (let i = 0; i < 50; i++) c.send(req, server.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toBe(10);
      expect(server.stats.rateLimited).toBe(40);
      c.close();
    } finally {
      await server.stop();
    }
    for (let i = 0; i < 1000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, clock.now());
    expect(limiter.size).toBeLessThanOrEqual(16);
  });
});

describe('bad names in the store', () => {
  it('skips node names that cannot be encoded instead of failing queries', () => {
    const long = `${'x'.repeat(64)}.crowbar.test`;
    const zones = buildZones(settings, [{ id: 1, name: long }, nodes[1]], allocs, 1);
    const a = new Authority(zones);
    expect(a.lookup(q('d2.crowbar.test', RRType.A))!.answers.length).toBe(1);
    expect(a.lookup(q('21.0.7.10.in-addr.arpa', RRType.PTR))!.flags.rcode).toBe(Rcode.NXDOMAIN);
  });
});
