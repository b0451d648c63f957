/**
 * RMCP header codec (IPMI v2.0 §13.1.3, DMTF ASF 2.0 §3.2.2.1): version 06h,
 * reserved, sequence number FFh (no RMCP ACK wanted for IPMI, §13.1.4),
 * message class 07h = IPMI.
 */
import { CrowbarError } from '../lib/errors.js';

/** RMCP version 1.0 (the only one, §13.1.3). */
export const RMCP_VERSION = 0x06;
/** Message class of IPMI messages (§13.1.3, class bits 4:0 = 7). */
export const RMCP_CLASS_IPMI = 0x07;
/** Length of the RMCP header. */
export const RMCP_HEADER_LEN = 4;

/** Encode the 4-byte RMCP header for an IPMI message. */
export function encodeRmcpHeader(): Buffer {
  // §13.1.4: IPMI messages use sequence number FFh so the receiver sends no RMCP ACK.
  return Buffer.from([RMCP_VERSION, 0x00, 0xff, RMCP_CLASS_IPMI]);
}

/** Decode an RMCP datagram; returns the IPMI session part after the header. */
export function decodeRmcp(buf: Buffer): { cls: number; body: Buffer } {
  if (buf.length < RMCP_HEADER_LEN) throw new CrowbarError('bmc.protocol', `RMCP datagram of ${buf.length} bytes is shorter than its header`);
  if (buf[0] !== RMCP_VERSION) throw new CrowbarError('bmc.protocol', `RMCP version 0x${buf[0].toString(16)} is not 0x06`);
  // Bit 7 of the class byte marks an RMCP ACK (§13.1.3); those carry no IPMI message.
  const cls = buf[3];
  if ((cls & 0x80) !== 0 || (cls & 0x1f) !== RMCP_CLASS_IPMI) throw new CrowbarError('bmc.protocol', `RMCP class 0x${cls.toString(16)} is not IPMI`);
  return { cls, body: buf.subarray(RMCP_HEADER_LEN) };
}
