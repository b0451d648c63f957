/**
 * IPMI session wrappers (IPMI v2.0 §13.6, table 13-8): the IPMI v1.5 format
 * (used here only for the pre-session Get Channel Authentication
 * Capabilities) and the RMCP+ (v2.0) format with its session trailer
 * (integrity pad, pad length, next header, AuthCode). Encryption and the
 * AuthCode computation are passed in, so this stays a pure codec.
 */
import { CrowbarError } from '../lib/errors.js';
import { decodeRmcp, encodeRmcpHeader } from './rmcp.js';

/** Auth Type/Format value marking an RMCP+ session header (§13.6). */
export const AUTH_FORMAT_RMCPP = 0x06;
/** Next header byte of the session trailer (§13.6: always 07h). */
export const NEXT_HEADER = 0x07;
/** Largest payload the client accepts (a 1500-byte Ethernet frame minus headers). */
export const MAX_PAYLOAD = 1024;

/** A decoded IPMI v1.5 session packet. */
export interface V15Packet {
  format: 'v15';
  authType: number;
  seq: number;
  sessionId: number;
  payload: Buffer;
}

/** A decoded RMCP+ session packet (payload still encrypted when `encrypted`). */
export interface V20Packet {
  format: 'v20';
  payloadType: number;
  encrypted: boolean;
  authenticated: boolean;
  sessionId: number;
  seq: number;
  payload: Buffer;
  /** For authenticated packets: the bytes the AuthCode covers and the AuthCode itself. */
  integrity?: { covered: Buffer; authCode: Buffer };
}

/** Either session format. */
export type SessionPacket = V15Packet | V20Packet;

/** Encode an unauthenticated IPMI v1.5 session packet (auth type NONE, §13.6). */
export function encodeV15(sessionId: number, seq: number, msg: Buffer): Buffer {
  if (msg.length > 255) throw new CrowbarError('bad_request', 'IPMI v1.5 message longer than 255 bytes');
  const h = Buffer.alloc(10);
  h[0] = 0x00; // auth type NONE
  h.writeUInt32LE(seq >>> 0, 1);
  h.writeUInt32LE(sessionId >>> 0, 5);
  h[9] = msg.length;
  return Buffer.concat([encodeRmcpHeader(), h, msg]);
}

/** Options for encoding an RMCP+ packet. */
export interface V20Encode {
  payloadType: number;
  sessionId: number;
  seq: number;
  /** The payload as it goes on the wire (already encrypted when `encrypted`). */
  payload: Buffer;
  encrypted: boolean;
  /** Computes the AuthCode over the covered bytes; absent for unauthenticated packets. */
  authCode?: (covered: Buffer) => Buffer;
}

/** Encode an RMCP+ session packet with its trailer when authenticated (§13.6). */
export function encodeV20(o: V20Encode): Buffer {
  if (o.payload.length > 0xffff) throw new CrowbarError('bad_request', 'RMCP+ payload too long');
  const h = Buffer.alloc(12);
  h[0] = AUTH_FORMAT_RMCPP;
  h[1] = (o.encrypted ? 0x80 : 0) | (o.authCode ? 0x40 : 0) | (o.payloadType & 0x3f);
  h.writeUInt32LE(o.sessionId >>> 0, 2);
  h.writeUInt32LE(o.seq >>> 0, 6);
  h.writeUInt16LE(o.payload.length, 10);
  if (!o.authCode) return Buffer.concat([encodeRmcpHeader(), h, o.payload]);
  // §13.6: integrity pad (FFh bytes) so that AuthType..NextHeader is a multiple of 4.
  const padLen = (4 - ((h.length + o.payload.length + 2) % 4)) % 4;
  const trailer = Buffer.alloc(padLen + 2, 0xff);
  trailer[padLen] = padLen;
  trailer[padLen + 1] = NEXT_HEADER;
  const covered = Buffer.concat([h, o.payload, trailer]);
  return Buffer.concat([encodeRmcpHeader(), covered, o.authCode(covered)]);
}

/**
 * Decode a session packet. `authCodeLen` is the AuthCode length of the
 * established session (0 before RAKP completes: an authenticated packet then
 * is a protocol error). Every length is checked against the datagram.
 */
export function decodeSession(datagram: Buffer, authCodeLen: number): SessionPacket {
  const b = decodeRmcp(datagram).body;
  if (b.length < 1) throw new CrowbarError('bmc.protocol', 'session header missing');
  if (b[0] !== AUTH_FORMAT_RMCPP) {
    // IPMI v1.5 header: type, seq, id, [16-byte AuthCode unless type NONE], length, message.
    const authType = b[0];
    if (authType > 0x05) throw new CrowbarError('bmc.protocol', `unknown auth type 0x${authType.toString(16)}`);
    const off = authType === 0 ? 9 : 25;
    if (b.length < off + 1) throw new CrowbarError('bmc.protocol', 'IPMI v1.5 session header truncated');
    const len = b[off];
    if (b.length < off + 1 + len) throw new CrowbarError('bmc.protocol', `IPMI v1.5 message length ${len} exceeds the datagram`);
    return { format: 'v15', authType, seq: b.readUInt32LE(1), sessionId: b.readUInt32LE(5), payload: Buffer.from(b.subarray(off + 1, off + 1 + len)) };
  }
  if (b.length < 12) throw new CrowbarError('bmc.protocol', 'RMCP+ session header truncated');
  const pt = b[1];
  const payloadType = pt & 0x3f;
  // §13.27.3: OEM explicit payloads (02h) carry 6 more header bytes; Crowbar never asks for them.
  if (payloadType === 0x02) throw new CrowbarError('bmc.protocol', 'unexpected OEM explicit payload');
  const encrypted = (pt & 0x80) !== 0;
  const authenticated = (pt & 0x40) !== 0;
  const sessionId = b.readUInt32LE(2);
  const seq = b.readUInt32LE(6);
  const len = b.readUInt16LE(10);
  if (len > MAX_PAYLOAD) throw new CrowbarError('bmc.protocol', `RMCP+ payload length ${len} is too large`);
  if (b.length < 12 + len) throw new CrowbarError('bmc.protocol', `RMCP+ payload length ${len} exceeds the datagram (${b.length - 12} bytes)`);
  const payload = Buffer.from(b.subarray(12, 12 + len));
  if (!authenticated) return { format: 'v20', payloadType, encrypted, authenticated, sessionId, seq, payload };
  if (authCodeLen === 0) throw new CrowbarError('bmc.protocol', 'authenticated packet outside an established session');
  // Trailer: pad, pad length, next header, AuthCode; all must add up exactly.
  const total = b.length;
  if (total < 12 + len + 2 + authCodeLen) throw new CrowbarError('bmc.protocol', 'RMCP+ session trailer truncated');
  const nh = total - authCodeLen - 1;
  const padLen = b[nh - 1];
  if (b[nh] !== NEXT_HEADER) throw new CrowbarError('bmc.protocol', `session trailer next header 0x${b[nh].toString(16)} is not 0x07`);
  if (12 + len + padLen + 2 + authCodeLen !== total) throw new CrowbarError('bmc.protocol', 'session trailer lengths do not add up');
  return {
    format: 'v20',
    payloadType,
    encrypted,
    authenticated,
    sessionId,
    seq,
    payload,
    integrity: { covered: Buffer.from(b.subarray(0, nh + 1)), authCode: Buffer.from(b.subarray(nh + 1)) },
  };
}
