/**
 * The BMC side of the RMCP+ session payloads and IPMI messages (IPMI v2.0
 * §13.8, §13.17-13.23): decode what a remote console sends, encode what a BMC
 * answers. Pure codecs, the mirror of rakp.ts and message.ts, used by the
 * simulated BMCs (src/sim/bmc.ts).
 */
import { CrowbarError } from '../lib/errors.js';
import { CIPHER_SUITES, type CipherSuite } from './crypto.js';
import { BMC_SA, checksum, type IpmiRequest } from './message.js';
import type { OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4 } from './rakp.js';

function need(b: Buffer, n: number, what: string): void {
  if (b.length < n) throw new CrowbarError('bmc.protocol', `${what} of ${b.length} bytes is truncated (need ${n})`);
}

/** An Open Session Request as a BMC sees it: the proposed algorithms, possibly not a suite we know. */
export interface OpenSessionProposal {
  tag: number;
  privilege: number;
  consoleSid: number;
  authAlg: number;
  integrityAlg: number;
  confAlg: number;
}

/** Decode an Open Session Request (§13.17, table 13-9). */
export function decodeOpenSessionRequest(b: Buffer): OpenSessionProposal {
  need(b, 32, 'Open Session Request');
  for (const [off, type] of [[8, 0], [16, 1], [24, 2]] as const) {
    if (b[off] !== type) throw new CrowbarError('bmc.protocol', `Open Session Request algorithm record ${type} has payload type ${b[off]}`);
  }
  return { tag: b[0], privilege: b[1] & 0x0f, consoleSid: b.readUInt32LE(4), authAlg: b[12] & 0x3f, integrityAlg: b[20] & 0x3f, confAlg: b[28] & 0x3f };
}

/** The cipher suite whose algorithms a proposal names, or null (status 11h). */
export function suiteOf(p: OpenSessionProposal): CipherSuite | null {
  for (const s of Object.values(CIPHER_SUITES)) if (s.authAlg === p.authAlg && s.integrityAlg === p.integrityAlg && s.confAlg === p.confAlg) return s;
  return null;
}

function algRecord(type: number, alg: number): Buffer {
  return Buffer.from([type, 0, 0, 0x08, alg & 0x3f, 0, 0, 0]);
}

/** Encode an Open Session Response (§13.18); a non-zero status carries only the first 8 bytes. */
export function encodeOpenSessionResponse(r: OpenSessionResponse): Buffer {
  const h = Buffer.alloc(8);
  h[0] = r.tag;
  h[1] = r.status;
  h[2] = r.privilege & 0x0f;
  h.writeUInt32LE(r.consoleSid >>> 0, 4);
  if (r.status !== 0) return h;
  const sid = Buffer.alloc(4);
  sid.writeUInt32LE(r.bmcSid >>> 0);
  return Buffer.concat([h, sid, algRecord(0, r.authAlg), algRecord(1, r.integrityAlg), algRecord(2, r.confAlg)]);
}

/** Decode RAKP Message 1 (§13.20). */
export function decodeRakp1(b: Buffer): Rakp1 {
  need(b, 28, 'RAKP Message 1');
  const len = b[27];
  if (len > 16) throw new CrowbarError('bmc.protocol', `RAKP Message 1 user name length ${len} exceeds 16`);
  need(b, 28 + len, 'RAKP Message 1');
  return { tag: b[0], bmcSid: b.readUInt32LE(4), consoleRandom: Buffer.from(b.subarray(8, 24)), role: b[24], user: Buffer.from(b.subarray(28, 28 + len)) };
}

/** Encode RAKP Message 2 (§13.21); a non-zero status carries only the first 8 bytes. */
export function encodeRakp2(r: Rakp2): Buffer {
  const h = Buffer.alloc(8);
  h[0] = r.tag;
  h[1] = r.status;
  h.writeUInt32LE(r.consoleSid >>> 0, 4);
  if (r.status !== 0) return h;
  return Buffer.concat([h, r.bmcRandom, r.bmcGuid, r.authCode]);
}

/** Decode RAKP Message 3 (§13.22). */
export function decodeRakp3(b: Buffer): Rakp3 {
  need(b, 8, 'RAKP Message 3');
  return { tag: b[0], status: b[1], bmcSid: b.readUInt32LE(4), authCode: Buffer.from(b.subarray(8)) };
}

/** Encode RAKP Message 4 (§13.23). */
export function encodeRakp4(r: Rakp4): Buffer {
  const h = Buffer.alloc(8);
  h[0] = r.tag;
  h[1] = r.status;
  h.writeUInt32LE(r.consoleSid >>> 0, 4);
  return r.status !== 0 ? h : Buffer.concat([h, r.icv]);
}

/** A request as the BMC decodes it, with the requester's addressing to echo. */
export interface DecodedRequest extends IpmiRequest {
  rqAddr: number;
  rqLun: number;
}

/** Decode a request message (§13.8); bad checksums or lengths throw bmc.protocol. */
export function decodeRequest(b: Buffer): DecodedRequest {
  if (b.length < 7) throw new CrowbarError('bmc.protocol', `IPMI request of ${b.length} bytes is truncated`);
  if (checksum(b, 0, 2) !== b[2]) throw new CrowbarError('bmc.protocol', 'IPMI request header checksum mismatch');
  if (checksum(b, 3, b.length - 1) !== b[b.length - 1]) throw new CrowbarError('bmc.protocol', 'IPMI request data checksum mismatch');
  if (b[0] !== BMC_SA) throw new CrowbarError('bmc.protocol', `IPMI request for responder 0x${b[0].toString(16)}, not the BMC`);
  const netFn = b[1] >> 2;
  if ((netFn & 1) !== 0) throw new CrowbarError('bmc.protocol', `IPMI message netFn 0x${netFn.toString(16)} is not a request`);
  return { netFn, cmd: b[5], rqSeq: b[4] >> 2, rqLun: b[4] & 0x03, rqAddr: b[3], data: Buffer.from(b.subarray(6, b.length - 1)) };
}

/** Encode the response to `req` with completion code `cc` (§13.8). */
export function encodeReply(req: DecodedRequest, cc: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(8 + data.length);
  b[0] = req.rqAddr;
  b[1] = ((req.netFn + 1) << 2) | req.rqLun;
  b[2] = checksum(b, 0, 2);
  b[3] = BMC_SA;
  b[4] = ((req.rqSeq & 0x3f) << 2) | 0x00;
  b[5] = req.cmd;
  b[6] = cc;
  data.copy(b, 7);
  b[b.length - 1] = checksum(b, 3, b.length - 1);
  return b;
}
