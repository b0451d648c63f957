/**
 * DNS against a running appliance on loopback, with dig (bind9-dnsutils) as
 * the peer: records from the store, negative answers, TCP, EDNS and TC, a
 * node allocated through the API resolving at once, REFUSED outside our
 * zones, forwarding, and a corpus of malformed packets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import dgram from 'node:dgram';
import net from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { nextPort, removeDataDir, startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { have } from '../helpers/netns.js';
import { openDatabase } from '../../src/store/db.js';
import { NodeRepo } from '../../src/store/nodes.js';
import { decodeMessage, encodeMessage } from '../../src/protocols/dns/codec.js';
import { CLASS_IN, RRType } from '../../src/protocols/dns/message.js';
import { DnsServer } from '../../src/protocols/dns/server.js';
import { Forwarder } from '../../src/protocols/dns/forward.js';
import { Authority } from '../../src/protocols/dns/authority.js';
import { ManualClock } from '../../src/lib/clock.js';
import { nullLogger } from '../../src/lib/logger.js';

const HAVE_DIG = have('dig');
const execFileP = promisify(execFile);
const L = (n: number) => 'l'.repeat(n);
// A chain of long CNAMEs: the answer is larger than 512 octets (TC without EDNS).
const chain = Array.from({ length: 7 }, (_, i) => ({ name: `c${i}${L(58)}`, target: i === 6 ? 'admin' : `c${i + 1}${L(58)}` }));

describe.skipIf(!HAVE_DIG)('dns: dig against the appliance', () => {
  let app: RunningAppliance;
  let port: number;
  const dig = (...args: string[]): string =>
    execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], { encoding: 'utf8' });
  const short = (...args: string[]) => dig('+short', ...args).trim();

  beforeAll(async () => {
    port = nextPort();
    app = await startAppliance({ config: { services: { dns: { enabled: true, bind: '127.0.0.1', port, aliases: chain, rate_limit: 0 } } } });
  });
  afterAll(async () => {
    await app?.stop();
    if (app) removeDataDir(app.dataDir);
  });

  it('answers A, CNAME, PTR, SOA and NS authoritatively', () => {
    const out = dig('admin.crowbar.test', 'A');
    expect(out).toMatch(/status: NOERROR/);
    expect(out).toMatch(/flags: qr aa rd;/);
    expect(out).toMatch(/admin\.crowbar\.test\.\s+60\s+IN\s+A\s+127\.0\.0\.1/);
    expect(short('crowbar.crowbar.test', 'A').split('\n')).toEqual(['admin.crowbar.test.', '127.0.0.1']);
    expect(short('-x', '127.0.0.1')).toBe('admin.crowbar.test.');
    expect(short('crowbar.test', 'SOA')).toMatch(/^admin\.crowbar\.test\. hostmaster\.crowbar\.test\. \d+ 3600 600 86400 60$/);
    expect(short('crowbar.test', 'NS')).toBe('admin.crowbar.test.');
  });

  it('NXDOMAIN and NODATA carry the SOA in the authority section (RFC 2308)', () => {
    const nx = dig('nothere.crowbar.test', 'A');
    expect(nx).toMatch(/status: NXDOMAIN/);
    expect(nx).toMatch(/AUTHORITY SECTION:\ncrowbar\.test\.\s+60\s+IN\s+SOA/);
    const nodata = dig('admin.crowbar.test', 'AAAA');
    expect(nodata).toMatch(/status: NOERROR/);
    expect(nodata).toMatch(/ANSWER: 0, AUTHORITY: 1/);
    expect(nodata).toMatch(/AUTHORITY SECTION:\ncrowbar\.test\.\s+60\s+IN\s+SOA/);
  });

  it('TCP and EDNS: payload capped at 1232, TC when the answer does not fit', () => {
    const tcp = dig('+tcp', 'admin.crowbar.test', 'A');
    expect(tcp).toMatch(/\(TCP\)/);
    expect(tcp).toMatch(/127\.0\.0\.1/);
    expect(dig('+bufsize=4096', 'admin.crowbar.test')).toMatch(/EDNS: version: 0, flags:; udp: 1232/);
    const big = `${chain[0].name}.crowbar.test`;
    const noedns = dig('+noedns', '+ignore', big, 'A');
    expect(noedns).toMatch(/flags: qr aa tc rd;/);
    expect(noedns).toMatch(/ANSWER: 0,/);
    const edns = dig('+bufsize=1232', big, 'A');
    expect(edns).not.toMatch(/ tc /);
    expect(edns).toMatch(/ANSWER: 8,/);
    // Without +ignore dig retries over TCP and gets everything.
    expect(dig('+noedns', big, 'A')).toMatch(/ANSWER: 8,.*\n[\s\S]*\(TCP\)/);
  });

  it('a node allocated through the API resolves at once; rename and delete follow', async () => {
    // The node is created through the store (a second connection, as a discovery would);
    // its admin address is allocated through the API.
    const db = openDatabase(join(app.dataDir, 'crowbar.db'));
    try {
      const repo = new NodeRepo(db);
      const node = repo.create({ name: 'd52-54-00-aa-bb-cc.crowbar.test', macs: ['52:54:00:aa:bb:cc'], state: 'discovered', cause: 'test' }, Date.now());
      expect(dig('d52-54-00-aa-bb-cc.crowbar.test')).toMatch(/NXDOMAIN/);
      const r = await app.api('/api/v1/networks/admin/allocations', { method: 'POST', body: { node: 'd52-54-00-aa-bb-cc.crowbar.test' } });
      expect(r.status).toBe(200);
      const ip = r.body.address as string;
      expect(ip).toMatch(/^127\./);
      expect(short('d52-54-00-aa-bb-cc.crowbar.test', 'A')).toBe(ip);
      expect(short('-x', ip)).toBe('d52-54-00-aa-bb-cc.crowbar.test.');
      const again = await app.api('/api/v1/networks/admin/allocations', { method: 'POST', body: { node: 'd52-54-00-aa-bb-cc.crowbar.test' } });
      expect(again.body.address).toBe(ip);
      expect((await app.api('/api/v1/networks/x/allocations', { method: 'POST', body: { node: 'd52-54-00-aa-bb-cc.crowbar.test' } })).status).toBeGreaterThanOrEqual(400);
      expect((await app.api('/api/v1/networks/admin/allocations', { method: 'POST', body: { node: 'd52-54-00-aa-bb-cc.crowbar.test' }, token: null })).status).toBe(401);
      repo.rename(node.id, 'web1.crowbar.test', Date.now());
      expect(short('web1.crowbar.test')).toBe(ip);
      expect(dig('d52-54-00-aa-bb-cc.crowbar.test')).toMatch(/NXDOMAIN/);
      expect(short('-x', ip)).toBe('web1.crowbar.test.');
      repo.remove(node.id, 'test', Date.now());
      expect(dig('web1.crowbar.test')).toMatch(/NXDOMAIN/);
      expect(dig('-x', ip)).toMatch(/NXDOMAIN/);
    } finally {
      db.close();
    }
  });

  it('is not an open resolver: outside names are REFUSED', () => {
    const out = dig('example.com', 'A');
    expect(out).toMatch(/status: REFUSED/);
    expect(out).toMatch(/ANSWER: 0/);
    expect(dig('version.bind', 'TXT', 'CH')).toMatch(/status: REFUSED/);
  });

  it('survives a corpus of malformed packets and random bytes, and answers the next query', async () => {
    const q = encodeMessage({
      id: 1,
      flags: { qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0 },
      questions: [{ name: 'admin.crowbar.test', type: RRType.A, class: CLASS_IN }],
      answers: [],
      authority: [],
      additional: [],
    });
    const hdr = (qd: number, an = 0, ns = 0, ar = 0) => Buffer.from([0, 7, 0, 0, 0, qd, 0, an, 0, ns, 0, ar]);
    const corpus: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([1]),
      Buffer.alloc(11),
      Buffer.concat([hdr(1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), // pointer to itself
      Buffer.concat([hdr(1), Buffer.from([1, 0x61, 0xc0, 12, 0, 1, 0, 1])]), // loop through the start
      Buffer.concat([hdr(1), Buffer.from([0xc0, 40, 0, 1, 0, 1])]), // forward / out of range pointer
      Buffer.concat([hdr(1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]), // label 64
      Buffer.concat([hdr(1), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]), // name > 255
      Buffer.concat([hdr(200, 200, 200, 200), q.subarray(12)]), // lying counts
      Buffer.concat([hdr(1, 1), q.subarray(12), Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0xff, 0xff])]), // RDLENGTH past end
      Buffer.concat([hdr(1, 0, 0, 2), q.subarray(12), Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0])]), // two OPTs
      Buffer.concat([q, Buffer.from([1, 2, 3])]), // trailing bytes
    ];
    const sock = dgram.createSocket('udp4');
    for (const p of corpus) sock.send(p, port, '127.0.0.1');
    for (let i = 0; i < 3000; i++) sock.send(randomBytes(1 + (i % 600)), port, '127.0.0.1');
    // Random bytes with a valid-looking query header.
    for (let i = 0; i < 1000; i++) sock.send(Buffer.concat([hdr(1 + (i % 3), i % 2, 0, i % 2), randomBytes(i % 80)]), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 500));
    sock.close();
    // TCP garbage: a lying length prefix, then a zero-length frame, then random bytes.
    for (const payload of [Buffer.from([0xff, 0xff, 1, 2, 3]), Buffer.from([0, 0]), randomBytes(3000)]) {
      await new Promise<void>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => {
          c.end(payload);
        });
        c.on('error', () => resolve());
        c.on('close', () => resolve());
        c.resume();
        setTimeout(() => c.destroy(), 500);
      });
    }
    expect(app.proc.exitCode).toBeNull();
    expect(short('admin.crowbar.test')).toBe('127.0.0.1');
    expect(short('+tcp', 'admin.crowbar.test')).toBe('127.0.0.1');
  });
});

describe.skipIf(!HAVE_DIG)('dns: forwarding only for the admin networks', () => {
  it('forwards with a fresh ID, checks the answer, and refuses other sources', async () => {
    // A fake upstream on loopback: answers every query with A 192.0.2.1, and once with a wrong ID first.
    const up = dgram.createSocket('udp4');
    const ids: number[] = [];
    up.on('message', (m, r) => {
      const q = decodeMessage(m);
      ids.push(q.id);
      const ans = encodeMessage({
        ...q,
        flags: { ...q.flags, qr: true, ra: true },
        answers: [{ name: q.questions[0].name, type: RRType.A, class: CLASS_IN, ttl: 30, data: { kind: 'a', address: '192.0.2.1' } }],
      });
      const wrong = Buffer.from(ans);
      wrong.writeUInt16BE((q.id + 1) & 0xffff, 0); // must be ignored
      const other = encodeMessage({ ...q, flags: { ...q.flags, qr: true }, questions: [{ ...q.questions[0], name: 'evil.example' }] }); // wrong question
      up.send(wrong, r.port, r.address);
      up.send(other, r.port, r.address);
      up.send(ans, r.port, r.address);
    });
    await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
    const upstream = { address: '127.0.0.1', port: up.address().port };
    let allow = true;
    const server = new DnsServer({
      bind: '127.0.0.1',
      port: 0,
      source: { current: () => new Authority([]) },
      forwarder: new Forwarder({ upstreams: [upstream], timeoutMs: 1000 }),
      mayForward: () => allow,
      clock: new ManualClock(),
      log: nullLogger,
    });
    await server.start();
    try {
      // In-process server: dig must not block the event loop.
      const dig = async (...a: string[]) => (await execFileP('dig', ['@127.0.0.1', '-p', String(server.port), '+time=3', '+tries=1', ...a], { encoding: 'utf8' })).stdout;
      const out = await dig('example.com', 'A');
      expect(out).toMatch(/status: NOERROR/);
      expect(out).toMatch(/example\.com\.\s+30\s+IN\s+A\s+192\.0\.2\.1/);
      const m = /id: (\d+)/.exec(out)!;
      expect(ids).toHaveLength(1);
      expect(ids[0]).not.toBe(Number(m[1])); // a fresh ID upstream
      allow = false;
      expect(await dig('example.com', 'A')).toMatch(/status: REFUSED/);
      expect(ids).toHaveLength(1);
    } finally {
      await server.stop();
      up.close();
    }
  });
});
