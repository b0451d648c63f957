/**
 * DNS message codec (RFC 1035 §4): `decodeMessage(Buffer)` and
 * `encodeMessage(message, limit)`. Decoding checks every count against the
 * bytes present (a "lying" count is malformed, never an over-read) and
 * rejects trailing garbage; encoding compresses names (RFC 1035 §4.1.4) and,
 * when the message does not fit `limit`, returns the header and question with
 * TC set (RFC 1035 §4.2.1, RFC 2181 §9).
 */
import { CrowbarError } from '../../lib/errors.js';
import { decodeName, nameToLabels } from './names.js';
import { RRType, type DnsFlags, type DnsMessage, type DnsQuestion, type DnsRecord, type Edns, type RData } from './message.js';

function malformed(msg: string): CrowbarError {
  return new CrowbarError('protocol.malformed', `dns: ${msg}`);
}

/** Decode the 16-bit flags word (RFC 1035 §4.1.1). */
export function decodeFlags(w: number): DnsFlags {
  return {
    qr: (w & 0x8000) !== 0,
    opcode: (w >> 11) & 0xf,
    aa: (w & 0x0400) !== 0,
    tc: (w & 0x0200) !== 0,
    rd: (w & 0x0100) !== 0,
    ra: (w & 0x0080) !== 0,
    ad: (w & 0x0020) !== 0,
    cd: (w & 0x0010) !== 0,
    rcode: w & 0xf,
  };
}

/** Encode the flags word. */
export function encodeFlags(f: DnsFlags): number {
  return (
    (f.qr ? 0x8000 : 0) |
    ((f.opcode & 0xf) << 11) |
    (f.aa ? 0x0400 : 0) |
    (f.tc ? 0x0200 : 0) |
    (f.rd ? 0x0100 : 0) |
    (f.ra ? 0x0080 : 0) |
    (f.ad ? 0x0020 : 0) |
    (f.cd ? 0x0010 : 0) |
    (f.rcode & 0xf)
  );
}

function ipv6Text(b: Buffer, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(o + i).toString(16));
  // RFC 5952 §4.2: compress the longest run of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (parts[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return parts.join(':');
  return parts.slice(0, best).join(':') + '::' + parts.slice(best + bestLen).join(':');
}

/** Parse an IPv6 address into 16 bytes; throws bad_request. */
export function ipv6Bytes(s: string): Buffer {
  const bad = () => new CrowbarError('bad_request', `not an IPv6 address: ${JSON.stringify(s)}`);
  const halves = s.split('::');
  if (halves.length > 2) throw bad();
  const grp = (x: string) => (x === '' ? [] : x.split(':'));
  const head = grp(halves[0]);
  const tail = halves.length === 2 ? grp(halves[1]) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8) || (halves.length === 2 && fill < 1)) throw bad();
  const all = [...head, ...Array<string>(fill).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) throw bad();
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  });
  return out;
}

function decodeRData(buf: Buffer, type: number, start: number, len: number): RData {
  const end = start + len;
  switch (type) {
    case RRType.A:
      if (len !== 4) throw malformed('A record RDATA is not 4 octets');
      return { kind: 'a', address: `${buf[start]}.${buf[start + 1]}.${buf[start + 2]}.${buf[start + 3]}` };
    case RRType.AAAA:
      if (len !== 16) throw malformed('AAAA record RDATA is not 16 octets');
      return { kind: 'aaaa', address: ipv6Text(buf, start) };
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR: {
      const n = decodeName(buf, start);
      if (n.next !== end) throw malformed('name RDATA length mismatch');
      return { kind: 'name', target: n.name };
    }
    case RRType.SOA: {
      const m = decodeName(buf, start);
      const r = decodeName(buf, m.next);
      if (r.next + 20 !== end) throw malformed('SOA RDATA length mismatch');
      const o = r.next;
      return {
        kind: 'soa',
        soa: {
          mname: m.name,
          rname: r.name,
          serial: buf.readUInt32BE(o),
          refresh: buf.readUInt32BE(o + 4),
          retry: buf.readUInt32BE(o + 8),
          expire: buf.readUInt32BE(o + 12),
          minimum: buf.readUInt32BE(o + 16),
        },
      };
    }
    default:
      return { kind: 'raw', bytes: Buffer.from(buf.subarray(start, end)) };
  }
}

/**
 * Decode a whole message. Throws `protocol.malformed` on anything that does
 * not parse exactly: counts larger than the data, names breaking RFC 1035
 * limits, more than one OPT record (RFC 6891 §6.1.1), trailing bytes.
 */
export function decodeMessage(buf: Buffer): DnsMessage {
  if (buf.length < 12) throw malformed('message shorter than the 12-octet header');
  const id = buf.readUInt16BE(0);
  const flags = decodeFlags(buf.readUInt16BE(2));
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  // Every question takes >= 5 octets, every record >= 11: a cheap bound on lying counts.
  if (12 + qd * 5 + (an + ns + ar) * 11 > buf.length) throw malformed('section counts exceed the message length');
  let pos = 12;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const n = decodeName(buf, pos);
    if (n.next + 4 > buf.length) throw malformed('truncated question');
    questions.push({ name: n.name, type: buf.readUInt16BE(n.next), class: buf.readUInt16BE(n.next + 2) });
    pos = n.next + 4;
  }
  let edns: Edns | undefined;
  const section = (count: number, isAdditional: boolean): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const n = decodeName(buf, pos);
      if (n.next + 10 > buf.length) throw malformed('truncated resource record');
      const type = buf.readUInt16BE(n.next);
      const klass = buf.readUInt16BE(n.next + 2);
      const ttl = buf.readUInt32BE(n.next + 4);
      const rdlen = buf.readUInt16BE(n.next + 8);
      const start = n.next + 10;
      if (start + rdlen > buf.length) throw malformed('RDATA runs past the end of the message');
      pos = start + rdlen;
      if (type === RRType.OPT) {
        // RFC 6891 §6.1.1: only in the additional section, owner root, at most one.
        if (!isAdditional || n.name !== '' || edns) throw malformed('misplaced or repeated OPT record');
        edns = {
          udpSize: klass,
          extRcode: ttl >>> 24,
          version: (ttl >>> 16) & 0xff,
          do: (ttl & 0x8000) !== 0,
          options: Buffer.from(buf.subarray(start, start + rdlen)),
        };
        continue;
      }
      out.push({ name: n.name, type, class: klass, ttl, data: decodeRData(buf, type, start, rdlen) });
    }
    return out;
  };
  const answers = section(an, false);
  const authority = section(ns, false);
  const additional = section(ar, true);
  if (pos !== buf.length) throw malformed('trailing bytes after the last record');
  const msg: DnsMessage = { id, flags, questions, answers, authority, additional };
  if (edns) msg.edns = edns;
  return msg;
}

/** Growable output buffer with name compression. */
class Writer {
  buf = Buffer.allocUnsafe(512);
  pos = 0;
  private readonly names = new Map<string, number>();

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  /** RFC 1035 §4.1.4: reuse earlier suffixes (case-insensitively) through pointers. */
  name(name: string, compress = true): void {
    const labels = nameToLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const key = labels
        .slice(i)
        .map((l) => l.toString('latin1').toLowerCase())
        .join('\u0000');
      const at = compress ? this.names.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.pos < 0x3fff && !this.names.has(key)) this.names.set(key, this.pos);
      this.u8(labels[i].length);
      this.bytes(labels[i]);
    }
    this.u8(0);
  }
}

function writeRData(w: Writer, r: DnsRecord): void {
  const lenAt = w.pos;
  w.u16(0);
  const d = r.data;
  switch (d.kind) {
    case 'a': {
      const p = d.address.split('.').map(Number);
      if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) throw new CrowbarError('bad_request', `bad A address ${d.address}`);
      for (const x of p) w.u8(x);
      break;
    }
    case 'aaaa':
      w.bytes(ipv6Bytes(d.address));
      break;
    case 'name':
      // RFC 3597 §4: compression only in RDATA of the well-known types (NS, CNAME, PTR, SOA).
      w.name(d.target);
      break;
    case 'soa':
      w.name(d.soa.mname);
      w.name(d.soa.rname);
      w.u32(d.soa.serial);
      w.u32(d.soa.refresh);
      w.u32(d.soa.retry);
      w.u32(d.soa.expire);
      w.u32(d.soa.minimum);
      break;
    case 'raw':
      w.bytes(d.bytes);
      break;
  }
  w.buf.writeUInt16BE(w.pos - lenAt - 2, lenAt);
}

function writeRecord(w: Writer, r: DnsRecord): void {
  w.name(r.name);
  w.u16(r.type);
  w.u16(r.class);
  w.u32(r.ttl);
  writeRData(w, r);
}

function writeOpt(w: Writer, e: Edns, rcode: number): void {
  w.u8(0); // root owner
  w.u16(RRType.OPT);
  w.u16(e.udpSize);
  w.u8(((rcode >> 4) & 0xff) | e.extRcode);
  w.u8(e.version);
  w.u16(e.do ? 0x8000 : 0);
  w.u16(e.options.length);
  w.bytes(e.options);
}

function writeAll(msg: DnsMessage, sections: boolean, tc: boolean): Buffer {
  const w = new Writer();
  w.u16(msg.id);
  w.u16(encodeFlags({ ...msg.flags, tc: msg.flags.tc || tc }));
  w.u16(msg.questions.length);
  w.u16(sections ? msg.answers.length : 0);
  w.u16(sections ? msg.authority.length : 0);
  w.u16((sections ? msg.additional.length : 0) + (msg.edns ? 1 : 0));
  for (const q of msg.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  if (sections) for (const r of [...msg.answers, ...msg.authority, ...msg.additional]) writeRecord(w, r);
  if (msg.edns) writeOpt(w, msg.edns, msg.flags.rcode);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/**
 * Encode a message. `flags.rcode` may carry an extended rcode (> 15): its
 * upper bits go into the OPT record (RFC 6891 §6.1.3). When the result is
 * larger than `limit`, the records are dropped and TC is set (RFC 2181 §9:
 * the client retries over TCP); the OPT record is kept.
 */
export function encodeMessage(msg: DnsMessage, limit = 65535): Buffer {
  const full = writeAll(msg, true, false);
  if (full.length <= limit) return full;
  return writeAll(msg, false, true);
}
