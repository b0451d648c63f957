/**
 * IPMI LAN message codec (IPMI v2.0 §13.8, figure 13-4): the request
 * `rsAddr, netFn/rsLUN, checksum1, rqAddr, rqSeq/rqLUN, cmd, data, checksum2`
 * and the response `rqAddr, netFn/rqLUN, checksum1, rsAddr, rqSeq/rsLUN, cmd,
 * completion code, data, checksum2`. Checksums are 2's complement sums (§13.8).
 */
import { CrowbarError } from '../lib/errors.js';

/** BMC responder address (§5.5: the BMC is at slave address 20h). */
export const BMC_SA = 0x20;
/** Remote console software ID (§5.5, table 5-4: 81h = remote console SWID 0). */
export const CONSOLE_SWID = 0x81;

/** An IPMI request to encode. */
export interface IpmiRequest {
  netFn: number;
  cmd: number;
  /** Request sequence number, 6 bits (§5.4: matches responses to requests). */
  rqSeq: number;
  data: Buffer;
}

/** A decoded IPMI response. */
export interface IpmiResponse {
  /** Response netFn (request netFn + 1, §5.1). */
  netFn: number;
  cmd: number;
  rqSeq: number;
  /** Completion code (§5.2). */
  cc: number;
  data: Buffer;
}

/** 8-bit 2's complement checksum: the bytes plus the checksum sum to 0 mod 256 (§13.8). */
export function checksum(buf: Buffer, start = 0, end = buf.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s = (s + buf[i]) & 0xff;
  return (0x100 - s) & 0xff;
}

/** Encode a request message (§13.8). */
export function encodeRequest(r: IpmiRequest): Buffer {
  if (r.netFn < 0 || r.netFn > 0x3f || (r.netFn & 1) !== 0) throw new CrowbarError('bad_request', `IPMI request netFn 0x${r.netFn.toString(16)} is not an even 6-bit value`);
  if (r.data.length > 255) throw new CrowbarError('bad_request', 'IPMI request data longer than 255 bytes');
  const b = Buffer.alloc(7 + r.data.length);
  b[0] = BMC_SA;
  b[1] = (r.netFn << 2) | 0x00; // rsLUN 0 (BMC)
  b[2] = checksum(b, 0, 2);
  b[3] = CONSOLE_SWID;
  b[4] = ((r.rqSeq & 0x3f) << 2) | 0x00; // rqLUN 0
  b[5] = r.cmd & 0xff;
  r.data.copy(b, 6);
  b[b.length - 1] = checksum(b, 3, b.length - 1);
  return b;
}

/** Decode a response message; bad checksums or lengths throw bmc.protocol. */
export function decodeResponse(b: Buffer): IpmiResponse {
  // Minimum: 6 header bytes + completion code + checksum2.
  if (b.length < 8) throw new CrowbarError('bmc.protocol', `IPMI response of ${b.length} bytes is truncated`);
  if (checksum(b, 0, 2) !== b[2]) throw new CrowbarError('bmc.protocol', 'IPMI response header checksum mismatch');
  if (checksum(b, 3, b.length - 1) !== b[b.length - 1]) throw new CrowbarError('bmc.protocol', 'IPMI response data checksum mismatch');
  const netFn = b[1] >> 2;
  if ((netFn & 1) !== 1) throw new CrowbarError('bmc.protocol', `IPMI message netFn 0x${netFn.toString(16)} is not a response`);
  return { netFn, cmd: b[5], rqSeq: b[4] >> 2, cc: b[6], data: Buffer.from(b.subarray(7, b.length - 1)) };
}

/** Encode a response (used by tests and fake BMCs). */
export function encodeResponse(r: IpmiResponse): Buffer {
  const b = Buffer.alloc(8 + r.data.length);
  b[0] = CONSOLE_SWID;
  b[1] = r.netFn << 2;
  b[2] = checksum(b, 0, 2);
  b[3] = BMC_SA;
  b[4] = (r.rqSeq & 0x3f) << 2;
  b[5] = r.cmd;
  b[6] = r.cc;
  r.data.copy(b, 7);
  b[b.length - 1] = checksum(b, 3, b.length - 1);
  return b;
}
