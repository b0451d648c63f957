/**
 * RMCP+ session establishment payloads (IPMI v2.0 §13.17-13.23): RMCP+ Open
 * Session Request/Response and RAKP Messages 1-4. Pure codecs; the auth codes
 * are computed in crypto.ts and verified by the session engine.
 */
import { CrowbarError } from '../lib/errors.js';
import type { CipherSuite } from './crypto.js';

/** Open Session Request (§13.17, table 13-9). */
export interface OpenSessionRequest {
  tag: number;
  /** Requested maximum privilege level (0 = highest the proposed algorithms allow). */
  privilege: number;
  consoleSid: number;
  suite: CipherSuite;
}

/** Open Session Response (§13.18, table 13-10). */
export interface OpenSessionResponse {
  tag: number;
  status: number;
  privilege: number;
  consoleSid: number;
  bmcSid: number;
  authAlg: number;
  integrityAlg: number;
  confAlg: number;
}

/** RAKP Message 1 (§13.20, table 13-11). */
export interface Rakp1 {
  tag: number;
  bmcSid: number;
  consoleRandom: Buffer;
  /** Role byte: bit 4 name-only lookup, bits 3:0 requested maximum privilege. */
  role: number;
  user: Buffer;
}

/** RAKP Message 2 (§13.21, table 13-12). */
export interface Rakp2 {
  tag: number;
  status: number;
  consoleSid: number;
  bmcRandom: Buffer;
  bmcGuid: Buffer;
  authCode: Buffer;
}

/** RAKP Message 3 (§13.22, table 13-13). */
export interface Rakp3 {
  tag: number;
  status: number;
  bmcSid: number;
  authCode: Buffer;
}

/** RAKP Message 4 (§13.23, table 13-14). */
export interface Rakp4 {
  tag: number;
  status: number;
  consoleSid: number;
  icv: Buffer;
}

function algRecord(type: number, alg: number): Buffer {
  // §13.17: payload type, 2 reserved, payload length (08h), algorithm, 3 reserved.
  return Buffer.from([type, 0, 0, 0x08, alg & 0x3f, 0, 0, 0]);
}

/** Encode an Open Session Request. */
export function encodeOpenSessionRequest(r: OpenSessionRequest): Buffer {
  const h = Buffer.alloc(8);
  h[0] = r.tag;
  h[1] = r.privilege & 0x0f;
  h.writeUInt32LE(r.consoleSid >>> 0, 4);
  return Buffer.concat([h, algRecord(0x00, r.suite.authAlg), algRecord(0x01, r.suite.integrityAlg), algRecord(0x02, r.suite.confAlg)]);
}

function need(b: Buffer, n: number, what: string): void {
  if (b.length < n) throw new CrowbarError('bmc.protocol', `${what} of ${b.length} bytes is truncated (need ${n})`);
}

/** Decode an Open Session Response; on a non-zero status only the first 8 bytes are required (§13.18). */
export function decodeOpenSessionResponse(b: Buffer): OpenSessionResponse {
  need(b, 8, 'Open Session Response');
  const r: OpenSessionResponse = { tag: b[0], status: b[1], privilege: b[2] & 0x0f, consoleSid: b.readUInt32LE(4), bmcSid: 0, authAlg: -1, integrityAlg: -1, confAlg: -1 };
  if (r.status !== 0) return r;
  need(b, 36, 'Open Session Response');
  r.bmcSid = b.readUInt32LE(8);
  for (const [off, type] of [[12, 0], [20, 1], [28, 2]] as const) {
    if (b[off] !== type) throw new CrowbarError('bmc.protocol', `Open Session Response algorithm record ${type} has payload type ${b[off]}`);
  }
  r.authAlg = b[16] & 0x3f;
  r.integrityAlg = b[24] & 0x3f;
  r.confAlg = b[32] & 0x3f;
  return r;
}

/** Encode RAKP Message 1. */
export function encodeRakp1(r: Rakp1): Buffer {
  if (r.consoleRandom.length !== 16) throw new CrowbarError('bad_request', 'RAKP1 random number must be 16 bytes');
  if (r.user.length > 16) throw new CrowbarError('bad_request', 'IPMI user names are at most 16 bytes');
  const b = Buffer.alloc(28 + r.user.length);
  b[0] = r.tag;
  b.writeUInt32LE(r.bmcSid >>> 0, 4);
  r.consoleRandom.copy(b, 8);
  b[24] = r.role;
  b[27] = r.user.length;
  r.user.copy(b, 28);
  return b;
}

/** Decode RAKP Message 2; `authLen` is the suite's HMAC length. */
export function decodeRakp2(b: Buffer, authLen: number): Rakp2 {
  need(b, 8, 'RAKP Message 2');
  const r: Rakp2 = { tag: b[0], status: b[1], consoleSid: b.readUInt32LE(4), bmcRandom: Buffer.alloc(0), bmcGuid: Buffer.alloc(0), authCode: Buffer.alloc(0) };
  if (r.status !== 0) return r;
  need(b, 40 + authLen, 'RAKP Message 2');
  if (b.length !== 40 + authLen) throw new CrowbarError('bmc.protocol', `RAKP Message 2 is ${b.length} bytes, expected ${40 + authLen}`);
  r.bmcRandom = Buffer.from(b.subarray(8, 24));
  r.bmcGuid = Buffer.from(b.subarray(24, 40));
  r.authCode = Buffer.from(b.subarray(40));
  return r;
}

/** Encode RAKP Message 3. */
export function encodeRakp3(r: Rakp3): Buffer {
  const b = Buffer.alloc(8);
  b[0] = r.tag;
  b[1] = r.status;
  b.writeUInt32LE(r.bmcSid >>> 0, 4);
  return Buffer.concat([b, r.authCode]);
}

/** Decode RAKP Message 4; `icvLen` is the suite's integrity check value length. */
export function decodeRakp4(b: Buffer, icvLen: number): Rakp4 {
  need(b, 8, 'RAKP Message 4');
  const r: Rakp4 = { tag: b[0], status: b[1], consoleSid: b.readUInt32LE(4), icv: Buffer.alloc(0) };
  if (r.status !== 0) return r;
  if (b.length !== 8 + icvLen) throw new CrowbarError('bmc.protocol', `RAKP Message 4 is ${b.length} bytes, expected ${8 + icvLen}`);
  r.icv = Buffer.from(b.subarray(8));
  return r;
}
