/**
 * The fast path for the common query shape: one IN question with an
 * uncompressed name, no answer/authority records, optionally one EDNS0 OPT
 * record of version 0. Such a query is recognised without building objects;
 * its lower-cased question is the key of a precomputed response, which is
 * copied and patched (ID, RD/CD, the client's spelling of the name, our OPT).
 * Anything else returns null and goes through the full codec.
 */
import { MAX_UDP_PAYLOAD } from './message.js';

/** What the fast parser extracted from a query. */
export interface FastQuery {
  /** Cache key: lower-cased name wire form + qtype + qclass, as latin1. */
  key: string;
  /** Offset right after the question name's root octet. */
  nameEnd: number;
  /** True when the query carried an OPT record. */
  edns: boolean;
  /** Requestor's UDP payload size (0 without EDNS). */
  udpSize: number;
  /** DNSSEC OK bit of the query (RFC 3225 §3: copied into the response). */
  dnssecOk: boolean;
}

const scratch = Buffer.allocUnsafe(260);

/**
 * Recognise a simple query (see module comment); null for anything else,
 * including every malformed packet (the full decoder then reports it).
 */
export function parseFastQuery(buf: Buffer): FastQuery | null {
  const len = buf.length;
  if (len < 17) return null;
  // QR=0, opcode 0 (RFC 1035 §4.1.1); QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1.
  if ((buf[2] & 0xf8) !== 0) return null;
  if (buf[4] !== 0 || buf[5] !== 1 || buf[6] !== 0 || buf[7] !== 0 || buf[8] !== 0 || buf[9] !== 0 || buf[10] !== 0 || buf[11] > 1) return null;
  let pos = 12;
  let k = 0;
  for (;;) {
    if (pos >= len) return null;
    const l = buf[pos];
    if (l === 0) break;
    if (l > 63) return null; // pointers and long labels: full decoder
    if (pos + 1 + l >= len || k + l + 1 > 254) return null;
    scratch[k++] = l;
    for (let i = pos + 1; i <= pos + l; i++) {
      const c = buf[i];
      scratch[k++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    pos += 1 + l;
  }
  scratch[k++] = 0;
  const nameEnd = pos + 1;
  const qEnd = nameEnd + 4;
  if (qEnd > len) return null;
  for (let i = nameEnd; i < qEnd; i++) scratch[k++] = buf[i];
  let edns = false;
  let udpSize = 0;
  let dnssecOk = false;
  if (buf[11] === 1) {
    // OPT: root owner, type 41, class = payload size, TTL = ext-rcode/version/flags, RDLEN (RFC 6891 §6.1.2).
    if (qEnd + 11 > len || buf[qEnd] !== 0 || buf[qEnd + 1] !== 0 || buf[qEnd + 2] !== 41) return null;
    if (buf[qEnd + 6] !== 0) return null; // version != 0: BADVERS via the full path
    const rdlen = buf.readUInt16BE(qEnd + 9);
    if (qEnd + 11 + rdlen !== len) return null;
    edns = true;
    udpSize = buf.readUInt16BE(qEnd + 3);
    dnssecOk = (buf[qEnd + 7] & 0x80) !== 0;
  } else if (qEnd !== len) return null;
  return { key: scratch.toString('latin1', 0, k), nameEnd, edns, udpSize, dnssecOk };
}

/** Length of our OPT record (root owner, fixed fields, no options). */
const OPT_LEN = 11;

/**
 * Build the response to `req` from a canonical precomputed response, or null
 * when it would not fit the client's UDP limit (`udp` true) so that the full
 * path can truncate it.
 */
export function patchResponse(cached: Buffer, req: Buffer, fq: FastQuery, udp: boolean): Buffer | null {
  const size = cached.length + (fq.edns ? OPT_LEN : 0);
  if (udp) {
    const limit = fq.edns ? Math.max(512, Math.min(fq.udpSize, MAX_UDP_PAYLOAD)) : 512;
    if (size > limit) return null;
  }
  const out = Buffer.allocUnsafe(size);
  cached.copy(out, 0);
  out[0] = req[0];
  out[1] = req[1];
  out[2] |= req[2] & 0x01; // RD copied (RFC 1035 §4.1.1)
  out[3] |= req[3] & 0x10; // CD copied (RFC 4035 §3.2.2)
  req.copy(out, 12, 12, fq.nameEnd); // the client's spelling of the name (RFC 4343 §4.1)
  if (fq.edns) {
    const ar = out.readUInt16BE(10) + 1;
    out.writeUInt16BE(ar, 10);
    let p = cached.length;
    out[p++] = 0;
    out.writeUInt16BE(41, p);
    out.writeUInt16BE(MAX_UDP_PAYLOAD, p + 2);
    out[p + 4] = 0;
    out[p + 5] = 0;
    out[p + 6] = fq.dnssecOk ? 0x80 : 0;
    out[p + 7] = 0;
    out.writeUInt16BE(0, p + 8);
  }
  return out;
}
