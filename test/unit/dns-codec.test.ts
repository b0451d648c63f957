import { describe, expect, it } from 'vitest';
import dns2 from 'dns2';
import { decodeMessage, encodeMessage, ipv6Bytes } from '../../src/protocols/dns/codec.js';
import { decodeName, nameToLabels } from '../../src/protocols/dns/names.js';
import { CLASS_IN, Rcode, RRType, type DnsMessage } from '../../src/protocols/dns/message.js';
import { isCrowbarError } from '../../src/lib/errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const Packet = (dns2 as any).Packet;

const flags = { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 };

function query(name: string, type: number, edns = false): DnsMessage {
  const m: DnsMessage = { id: 0x1234, flags: { ...flags }, questions: [{ name, type, class: CLASS_IN }], answers: [], authority: [], additional: [] };
  if (edns) m.edns = { udpSize: 4096, extRcode: 0, version: 0, do: false, options: Buffer.alloc(0) };
  return m;
}

function expectMalformed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(isCrowbarError(e, 'protocol.malformed')).toBe(true);
    return;
  }
  throw new Error('expected protocol.malformed');
}

describe('dns names (RFC 1035 §4.1.4)', () => {
  it('decodes the RFC 1035 §4.1.4 compression example', () => {
    // F.ISI.ARPA at offset 20, FOO.F.ISI.ARPA at 40 (pointer to 20), ARPA at 64 (pointer to 26), root at 66.
    const b = Buffer.alloc(80);
    Buffer.from([1, 0x46, 3, 0x49, 0x53, 0x49, 4, 0x41, 0x52, 0x50, 0x41, 0]).copy(b, 20);
    Buffer.from([3, 0x46, 0x4f, 0x4f, 0xc0, 20]).copy(b, 40);
    Buffer.from([0xc0, 26]).copy(b, 64);
    b[66] = 0;
    expect(decodeName(b, 20)).toEqual({ name: 'F.ISI.ARPA', next: 32 });
    expect(decodeName(b, 40)).toEqual({ name: 'FOO.F.ISI.ARPA', next: 46 });
    expect(decodeName(b, 64)).toEqual({ name: 'ARPA', next: 66 });
    expect(decodeName(b, 66)).toEqual({ name: '', next: 67 });
  });

  it('rejects loops, forward pointers, long labels and long names', () => {
    const self = Buffer.from([0, 0, 0xc0, 2]);
    expectMalformed(() => decodeName(self, 2)); // points to itself
    const fwd = Buffer.from([0xc0, 2, 1, 0x61, 0]);
    expectMalformed(() => decodeName(fwd, 0)); // points forward
    const loop2 = Buffer.from([1, 0x61, 0xc0, 4, 1, 0x62, 0xc0, 0]);
    expectMalformed(() => decodeName(loop2, 4)); // b -> a -> forward
    const long = Buffer.concat([Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0])]);
    expectMalformed(() => decodeName(long, 0));
    const parts: number[] = [];
    for (let i = 0; i < 5; i++) parts.push(63, ...Buffer.alloc(63, 0x61));
    expectMalformed(() => decodeName(Buffer.from([...parts, 0]), 0)); // 320 octets
    expectMalformed(() => decodeName(Buffer.from([3, 0x61, 0x62]), 0)); // runs off the end
    expectMalformed(() => decodeName(Buffer.from([0x80, 0]), 0)); // reserved label type
  });

  it('escapes and round-trips odd octets', () => {
    const b = Buffer.from([3, 0x61, 0x2e, 0x00, 1, 0x5c, 0]);
    const n = decodeName(b, 0);
    expect(n.name).toBe('a\\.\\000.\\\\');
    expect(Buffer.concat(nameToLabels(n.name))).toEqual(Buffer.from([0x61, 0x2e, 0x00, 0x5c]));
  });
});

describe('dns message codec', () => {
  it('decodes a query built by dns2 (cross-check) and one built by hand', () => {
    const p = new Packet();
    p.header.id = 4242;
    p.header.rd = 1;
    p.questions.push({ name: 'node1.crowbar.test', type: Packet.TYPE.A, class: Packet.CLASS.IN });
    const m = decodeMessage(p.toBuffer());
    expect(m.id).toBe(4242);
    expect(m.flags.rd).toBe(true);
    expect(m.questions).toEqual([{ name: 'node1.crowbar.test', type: 1, class: 1 }]);
    // dig's query for example.com A with EDNS (udp 1232, cookie option), captured.
    const dig = Buffer.from(
      'fea901200001000000000001076578616d706c6503636f6d000001000100002904d000000000000c000a00086d1fd00762c360da',
      'hex',
    );
    const d = decodeMessage(dig);
    expect(d.id).toBe(0xfea9);
    expect(d.flags.rd).toBe(true);
    expect(d.flags.ad).toBe(true);
    expect(d.questions[0]).toEqual({ name: 'example.com', type: 1, class: 1 });
    expect(d.edns?.udpSize).toBe(1232);
    expect(d.edns?.options.length).toBe(12);
  });

  it('round-trips every record kind and compresses names; dns2 parses our output', () => {
    const soa = { mname: 'admin.crowbar.test', rname: 'hostmaster.crowbar.test', serial: 7, refresh: 3600, retry: 600, expire: 86400, minimum: 60 };
    const m: DnsMessage = {
      id: 9,
      flags: { ...flags, qr: true, aa: true },
      questions: [{ name: 'n1.crowbar.test', type: RRType.ANY, class: CLASS_IN }],
      answers: [
        { name: 'n1.crowbar.test', type: RRType.A, class: CLASS_IN, ttl: 60, data: { kind: 'a', address: '10.0.0.5' } },
        { name: 'n1.crowbar.test', type: RRType.AAAA, class: CLASS_IN, ttl: 60, data: { kind: 'aaaa', address: 'fd00::5' } },
        { name: 'n1.crowbar.test', type: RRType.CNAME, class: CLASS_IN, ttl: 60, data: { kind: 'name', target: 'n2.crowbar.test' } },
        { name: '5.0.0.10.in-addr.arpa', type: RRType.PTR, class: CLASS_IN, ttl: 60, data: { kind: 'name', target: 'n1.crowbar.test' } },
        { name: 'n1.crowbar.test', type: RRType.TXT, class: CLASS_IN, ttl: 60, data: { kind: 'raw', bytes: Buffer.from('\u0002hi') } },
      ],
      authority: [{ name: 'crowbar.test', type: RRType.SOA, class: CLASS_IN, ttl: 60, data: { kind: 'soa', soa } }],
      additional: [],
      edns: { udpSize: 1232, extRcode: 0, version: 0, do: true, options: Buffer.alloc(0) },
    };
    const b = encodeMessage(m);
    expect(decodeMessage(b)).toEqual(m);
    // Compression: "crowbar.test" appears in full only once.
    expect(b.toString('latin1').split('crowbar').length - 1).toBe(1);
    const parsed = Packet.parse(b);
    expect(parsed.answers[0].address).toBe('10.0.0.5');
    expect(parsed.answers[3].domain).toBe('n1.crowbar.test');
    expect(parsed.authorities[0].serial).toBe(7);
  });

  it('sets TC and drops records when over the limit (RFC 2181 §9)', () => {
    const m = query('big.crowbar.test', RRType.A, true);
    m.flags.qr = true;
    for (let i = 0; i < 60; i++) m.answers.push({ name: 'big.crowbar.test', type: RRType.A, class: CLASS_IN, ttl: 60, data: { kind: 'a', address: `10.0.${i}.1` } });
    const full = encodeMessage(m);
    expect(full.length).toBeGreaterThan(512);
    const t = decodeMessage(encodeMessage(m, 512));
    expect(t.flags.tc).toBe(true);
    expect(t.answers).toEqual([]);
    expect(t.edns?.udpSize).toBe(4096);
  });

  it('carries extended rcodes in OPT (RFC 6891 §6.1.3)', () => {
    const m = query('x.test', RRType.A, true);
    m.flags = { ...m.flags, qr: true, rcode: Rcode.BADVERS };
    const b = encodeMessage(m);
    const d = decodeMessage(b);
    expect(d.flags.rcode).toBe(0);
    expect(d.edns?.extRcode).toBe(1);
  });

  it('rejects lying counts, truncation, trailing bytes and misplaced OPT', () => {
    const good = encodeMessage(query('a.test', RRType.A));
    const lying = Buffer.from(good);
    lying.writeUInt16BE(5, 4);
    expectMalformed(() => decodeMessage(lying));
    const lyingAn = Buffer.from(good);
    lyingAn.writeUInt16BE(1, 6);
    expectMalformed(() => decodeMessage(lyingAn));
    expectMalformed(() => decodeMessage(good.subarray(0, good.length - 1)));
    expectMalformed(() => decodeMessage(Buffer.concat([good, Buffer.from([0])])));
    expectMalformed(() => decodeMessage(Buffer.alloc(11)));
    const twoOpt = query('a.test', RRType.A, true);
    const b = encodeMessage(twoOpt);
    const opt = b.subarray(b.length - 11);
    const dbl = Buffer.concat([b, opt]);
    dbl.writeUInt16BE(2, 10);
    expectMalformed(() => decodeMessage(dbl));
    // A record with a 5-octet RDATA.
    const badA = Buffer.concat([good, Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 1, 2, 3, 4, 5])]);
    badA.writeUInt16BE(1, 6);
    expectMalformed(() => decodeMessage(badA));
  });

  it('parses IPv6 text forms', () => {
    expect(ipv6Bytes('::1').toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipv6Bytes('fd00:1:2:3:4:5:6:7').toString('hex')).toBe('fd000001000200030004000500060007');
    expect(() => ipv6Bytes('1::2::3')).toThrow();
    expect(() => ipv6Bytes('1:2:3')).toThrow();
  });
});
