/**
 * NTPv4 packet codec (RFC 5905 §7.3): the 48-octet header. Timestamps are
 * kept as raw 64-bit NTP values (bigint: seconds since 1900 << 32 | fraction)
 * so that the origin timestamp can be echoed byte for byte. Extension fields
 * and MACs after the header are ignored by decode and never produced.
 */
import { CrowbarError } from '../../lib/errors.js';

/** Length of the NTP header (RFC 5905 §7.3). */
export const NTP_HEADER = 48;

/** Association modes (RFC 5905 §7.3, Figure 10). */
export const NtpMode = {
  SYMMETRIC_ACTIVE: 1,
  SYMMETRIC_PASSIVE: 2,
  CLIENT: 3,
  SERVER: 4,
  BROADCAST: 5,
  CONTROL: 6,
  PRIVATE: 7,
} as const;

/** Leap indicator values (RFC 5905 §7.3, Figure 9). */
export const Leap = { NONE: 0, ADD: 1, DEL: 2, UNSYNC: 3 } as const;

/** The decoded header. */
export interface NtpPacket {
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  /** log2 seconds, signed. */
  poll: number;
  /** log2 seconds, signed. */
  precision: number;
  /** NTP short format (16.16 seconds), raw. */
  rootDelay: number;
  /** NTP short format (16.16 seconds), raw. */
  rootDispersion: number;
  /** Reference ID: 4 octets (ASCII kiss code / refclock id / IPv4 address). */
  refId: Buffer;
  reference: bigint;
  origin: bigint;
  receive: bigint;
  transmit: bigint;
}

/** Seconds between the NTP era 0 epoch (1900) and the Unix epoch (RFC 5905 §6). */
export const NTP_UNIX_OFFSET = 2_208_988_800n;

/** Unix time in nanoseconds -> 64-bit NTP timestamp (era 0 wraps mod 2^64, RFC 5905 §6). */
export function nsToNtp(ns: bigint): bigint {
  const sec = ns / 1_000_000_000n;
  const rem = ns % 1_000_000_000n;
  const frac = (rem << 32n) / 1_000_000_000n;
  return (((sec + NTP_UNIX_OFFSET) & 0xffffffffn) << 32n) | frac;
}

/**
 * Write Unix time `ns` as a 64-bit NTP timestamp at `offset` (same value as
 * nsToNtp, one BigInt division instead of several: this is the hot path).
 */
export function writeNtpTimestamp(b: Buffer, offset: number, ns: bigint): void {
  const sec = ns / 1_000_000_000n;
  const rem = Number(ns - sec * 1_000_000_000n); // 0 <= rem < 1e9, exact
  b.writeUInt32BE((Number(sec) + 2_208_988_800) % 4_294_967_296, offset);
  b.writeUInt32BE(Math.floor((rem * 4_294_967_296) / 1e9), offset + 4);
}

/** 64-bit NTP timestamp -> Unix time in nanoseconds (era 0 assumed, good until 2036). */
export function ntpToNs(t: bigint): bigint {
  const sec = (t >> 32n) - NTP_UNIX_OFFSET;
  const frac = t & 0xffffffffn;
  return sec * 1_000_000_000n + ((frac * 1_000_000_000n) >> 32n);
}

/** Seconds (float) -> NTP short format 16.16 (RFC 5905 §6), saturating. */
export function toShort(seconds: number): number {
  return Math.max(0, Math.min(0xffffffff, Math.round(seconds * 65536))) >>> 0;
}

/** Decode the header; throws protocol.malformed when shorter than 48 octets. */
export function decodePacket(b: Buffer): NtpPacket {
  if (b.length < NTP_HEADER) throw new CrowbarError('protocol.malformed', `ntp: packet of ${b.length} octets is shorter than the 48-octet header`);
  return {
    leap: b[0] >> 6,
    version: (b[0] >> 3) & 7,
    mode: b[0] & 7,
    stratum: b[1],
    poll: b.readInt8(2),
    precision: b.readInt8(3),
    rootDelay: b.readUInt32BE(4),
    rootDispersion: b.readUInt32BE(8),
    refId: Buffer.from(b.subarray(12, 16)),
    reference: b.readBigUInt64BE(16),
    origin: b.readBigUInt64BE(24),
    receive: b.readBigUInt64BE(32),
    transmit: b.readBigUInt64BE(40),
  };
}

/** Encode a header (48 octets). */
export function encodePacket(p: NtpPacket): Buffer {
  const b = Buffer.alloc(NTP_HEADER);
  b[0] = ((p.leap & 3) << 6) | ((p.version & 7) << 3) | (p.mode & 7);
  b[1] = p.stratum & 0xff;
  b.writeInt8(Math.max(-128, Math.min(127, p.poll)), 2);
  b.writeInt8(Math.max(-128, Math.min(127, p.precision)), 3);
  b.writeUInt32BE(p.rootDelay >>> 0, 4);
  b.writeUInt32BE(p.rootDispersion >>> 0, 8);
  p.refId.copy(b, 12, 0, 4);
  b.writeBigUInt64BE(p.reference & 0xffffffffffffffffn, 16);
  b.writeBigUInt64BE(p.origin & 0xffffffffffffffffn, 24);
  b.writeBigUInt64BE(p.receive & 0xffffffffffffffffn, 32);
  b.writeBigUInt64BE(p.transmit & 0xffffffffffffffffn, 40);
  return b;
}
