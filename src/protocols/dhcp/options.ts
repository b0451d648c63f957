/**
 * DHCP option area codec (RFC 2132 §2, RFC 3396). Parsing is length-checked:
 * pad (0) is skipped, end (255) stops the area, any option whose length runs
 * past the area is an error. Repeated instances of one option code are
 * concatenated in order (RFC 3396 §5), across the options field and, when
 * option 52 says so, the `file` and `sname` fields (RFC 2131 §4.1).
 */
import { CrowbarError } from '../../lib/errors.js';
import { Opt } from './constants.js';

/** Options of a message: code -> value (already concatenated per RFC 3396). */
export type DhcpOptions = Map<number, Buffer>;

/**
 * Parse one option area `buf[start, end)` into `out`; a code seen again is
 * appended to what is there (RFC 3396 §5: concatenation in order of
 * appearance). Returns true when an end option was seen. Throws `protocol.malformed`
 * on an option that overruns the area.
 */
export function parseOptionArea(buf: Buffer, start: number, end: number, out: DhcpOptions, area: string): boolean {
  let i = start;
  while (i < end) {
    const code = buf[i];
    if (code === Opt.PAD) {
      i++;
      continue;
    }
    if (code === Opt.END) return true;
    if (i + 1 >= end) throw new CrowbarError('protocol.malformed', `option ${code} in ${area} has no length byte`);
    const len = buf[i + 1];
    if (i + 2 + len > end) throw new CrowbarError('protocol.malformed', `option ${code} in ${area} overruns the area (length ${len}, ${end - i - 2} bytes left)`);
    const part = buf.subarray(i + 2, i + 2 + len);
    const have = out.get(code);
    out.set(code, have ? Buffer.concat([have, part]) : part);
    i += 2 + len;
  }
  return false;
}

/** Encoded size of the options (each value split into 255-byte instances, RFC 3396 §6) without the end option. */
export function encodedOptionsSize(opts: DhcpOptions): number {
  let n = 0;
  for (const v of opts.values()) n += v.length === 0 ? 2 : v.length + 2 * Math.ceil(v.length / 255);
  return n;
}

/**
 * Write options at `offset` (values over 255 bytes become several instances
 * of the same code, RFC 3396 §6) followed by the end option. Returns the
 * offset after the end option.
 */
export function writeOptions(buf: Buffer, offset: number, opts: DhcpOptions): number {
  let o = offset;
  for (const [code, v] of opts) {
    if (code === Opt.PAD || code === Opt.END) continue;
    if (v.length === 0) {
      buf[o++] = code;
      buf[o++] = 0;
      continue;
    }
    for (let p = 0; p < v.length; p += 255) {
      const n = Math.min(255, v.length - p);
      buf[o++] = code;
      buf[o++] = n;
      v.copy(buf, o, p, p + n);
      o += n;
    }
  }
  buf[o++] = Opt.END;
  return o;
}

/** Value helpers for building and reading options. */
export const optVal = {
  /** One unsigned byte. */
  u8: (n: number): Buffer => Buffer.from([n & 255]),
  /** Unsigned 16-bit, network order. */
  u16: (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n & 0xffff);
    return b;
  },
  /** Unsigned 32-bit, network order. */
  u32: (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    return b;
  },
  /** One or more IPv4 addresses. */
  ips: (...ips: string[]): Buffer => {
    const b = Buffer.alloc(4 * ips.length);
    ips.forEach((ip, i) => {
      const p = ip.split('.');
      for (let k = 0; k < 4; k++) b[i * 4 + k] = Number(p[k]);
    });
    return b;
  },
  /** ASCII/UTF-8 text (no terminating NUL). */
  str: (s: string): Buffer => Buffer.from(s, 'utf8'),
  /** Read an IPv4 address (first 4 bytes) or null when too short. */
  readIp: (b: Buffer | undefined): string | null => (b && b.length >= 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : null),
  /** Read an unsigned 16-bit value or null. */
  readU16: (b: Buffer | undefined): number | null => (b && b.length >= 2 ? b.readUInt16BE(0) : null),
  /** Read an unsigned 32-bit value or null. */
  readU32: (b: Buffer | undefined): number | null => (b && b.length >= 4 ? b.readUInt32BE(0) : null),
  /** Read text, stopping at the first NUL. */
  readStr: (b: Buffer | undefined): string | null => {
    if (!b) return null;
    const z = b.indexOf(0);
    return (z >= 0 ? b.subarray(0, z) : b).toString('latin1');
  },
};
