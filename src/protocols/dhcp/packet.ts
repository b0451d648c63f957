/**
 * DHCPv4 message codec (RFC 2131 §2 message format, RFC 2132 options).
 * `decodeMessage` validates lengths and the magic cookie and throws
 * `protocol.malformed` on anything it cannot trust; `encodeMessage` writes a
 * reply padded to 300 bytes (RFC 1542 §2.1) that fits the client's maximum
 * message size (option 57, RFC 2132 §9.10), overloading `file`/`sname`
 * (option 52) only when needed and when those fields are free.
 */
import { CrowbarError } from '../../lib/errors.js';
import {
  FILE_OFFSET,
  FILE_SIZE,
  HEADER_SIZE,
  MAGIC_COOKIE,
  MIN_MAX_MESSAGE_SIZE,
  MIN_REPLY_SIZE,
  Opt,
  SNAME_OFFSET,
  SNAME_SIZE,
} from './constants.js';
import { encodedOptionsSize, parseOptionArea, writeOptions, type DhcpOptions } from './options.js';

/** A decoded (or to-be-encoded) DHCP/BOOTP message. Addresses are dotted quads. */
export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** Client hardware address, `hlen` bytes. */
  chaddr: Buffer;
  /** Server host name (empty when the field carried options). */
  sname: string;
  /** Boot file name (empty when the field carried options). */
  file: string;
  /** Options, concatenated per RFC 3396. */
  options: DhcpOptions;
}

function ipAt(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function putIp(b: Buffer, o: number, ip: string): void {
  let part = 0;
  let k = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (k === 3 || part > 255) throw new CrowbarError('bad_request', `not an IPv4 address: ${ip}`);
      b[o + k++] = part;
      part = 0;
    } else if (c >= 48 && c <= 57) part = part * 10 + (c - 48);
    else throw new CrowbarError('bad_request', `not an IPv4 address: ${ip}`);
  }
  if (k !== 3 || part > 255) throw new CrowbarError('bad_request', `not an IPv4 address: ${ip}`);
  b[o + 3] = part;
}

function cString(b: Buffer, o: number, n: number): string {
  const f = b.subarray(o, o + n);
  const z = f.indexOf(0);
  return (z >= 0 ? f.subarray(0, z) : f).toString('latin1');
}

/**
 * Decode a datagram. Throws `protocol.malformed` when it is shorter than the
 * fixed header plus cookie (RFC 2131 §2), has an unknown op, a hardware
 * address length over 16, no magic cookie (RFC 2131 §3), an option that
 * overruns its area, or a bad option 52.
 */
export function decodeMessage(buf: Buffer): DhcpMessage {
  if (buf.length < HEADER_SIZE + 4) throw new CrowbarError('protocol.malformed', `truncated: ${buf.length} bytes, need at least ${HEADER_SIZE + 4}`);
  const op = buf[0];
  if (op !== 1 && op !== 2) throw new CrowbarError('protocol.malformed', `bad op ${op}`);
  const hlen = buf[2];
  if (hlen > 16) throw new CrowbarError('protocol.malformed', `hlen ${hlen} exceeds the 16-byte chaddr field`);
  if (buf.readUInt32BE(HEADER_SIZE) !== MAGIC_COOKIE) throw new CrowbarError('protocol.malformed', 'no DHCP magic cookie');
  const options: DhcpOptions = new Map();
  parseOptionArea(buf, HEADER_SIZE + 4, buf.length, options, 'options');
  // RFC 2131 §4.1: option 52 may only appear in the options field; the file
  // field is parsed before sname, and instances are concatenated (RFC 3396).
  let overload = 0;
  const ov = options.get(Opt.OVERLOAD);
  if (ov) {
    if (ov.length !== 1 || ov[0] < 1 || ov[0] > 3) throw new CrowbarError('protocol.malformed', 'bad option 52 (overload)');
    overload = ov[0];
    if (overload & 1) parseOptionArea(buf, FILE_OFFSET, FILE_OFFSET + FILE_SIZE, options, 'file');
    if (overload & 2) parseOptionArea(buf, SNAME_OFFSET, SNAME_OFFSET + SNAME_SIZE, options, 'sname');
    if (options.get(Opt.OVERLOAD) !== ov) throw new CrowbarError('protocol.malformed', 'option 52 repeated inside an overloaded field');
  }
  return {
    op,
    htype: buf[1],
    hlen,
    hops: buf[3],
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipAt(buf, 12),
    yiaddr: ipAt(buf, 16),
    siaddr: ipAt(buf, 20),
    giaddr: ipAt(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 28 + hlen)),
    sname: overload & 2 ? '' : cString(buf, SNAME_OFFSET, SNAME_SIZE),
    file: overload & 1 ? '' : cString(buf, FILE_OFFSET, FILE_SIZE),
    options,
  };
}

/** Options that are never dropped to fit a size limit (RFC 2131 §4.3.1 Table 3 "MUST"). */
const ESSENTIAL = new Set<number>([Opt.MESSAGE_TYPE, Opt.SERVER_ID, Opt.LEASE_TIME, Opt.MESSAGE, Opt.OVERLOAD]);

/**
 * Encode a message. `maxSize` is the largest DHCP message the client accepts
 * (option 57; never below 576, RFC 2132 §9.10). When the options do not fit,
 * options the client did not ask for in option 55 (`requested`, or an
 * option 55 found among the options, which is then not written) are dropped first, then
 * the free `file`/`sname` fields carry the rest (option 52). Throws
 * `protocol.malformed` if the essentials still do not fit.
 */
export function encodeMessage(m: DhcpMessage, maxSize = 1500, requested?: Buffer): Buffer {
  const limit = Math.max(MIN_MAX_MESSAGE_SIZE, maxSize);
  const fixed = HEADER_SIZE + 4;
  let opts = m.options;
  if (opts.has(Opt.PARAMETER_LIST)) {
    // A parameter list among the options to write is taken as the client's request list.
    requested ??= opts.get(Opt.PARAMETER_LIST);
    opts = new Map(opts);
    opts.delete(Opt.PARAMETER_LIST);
  }
  let size = fixed + encodedOptionsSize(opts) + 1;
  if (size > limit) {
    const wanted = new Set<number>(requested ? [...requested] : []);
    opts = new Map([...opts].filter(([c]) => ESSENTIAL.has(c) || wanted.has(c)));
    size = fixed + encodedOptionsSize(opts) + 1;
  }
  let fileOpts: DhcpOptions | null = null;
  let snameOpts: DhcpOptions | null = null;
  if (size > limit) {
    // Move whole options into file (then sname) while they are unused (RFC 2131 §4.1).
    const main: DhcpOptions = new Map();
    const file: DhcpOptions = new Map();
    const sname: DhcpOptions = new Map();
    let mainSize = 3 + 1; // option 52 + end
    let fileSize = 1;
    let snameSize = 1;
    for (const [c, v] of opts) {
      const one = encodedOptionsSize(new Map([[c, v]]));
      if (ESSENTIAL.has(c) || fixed + mainSize + one <= limit) {
        main.set(c, v);
        mainSize += one;
      } else if (m.file === '' && fileSize + one <= FILE_SIZE) {
        file.set(c, v);
        fileSize += one;
      } else if (m.sname === '' && snameSize + one <= SNAME_SIZE) {
        sname.set(c, v);
        snameSize += one;
      } else {
        main.set(c, v);
        mainSize += one;
      }
    }
    if (fixed + mainSize > limit) throw new CrowbarError('protocol.malformed', `reply does not fit the client's maximum message size ${limit}`);
    const flag = (file.size ? 1 : 0) | (sname.size ? 2 : 0);
    if (flag) {
      main.set(Opt.OVERLOAD, Buffer.from([flag]));
      fileOpts = file.size ? file : null;
      snameOpts = sname.size ? sname : null;
    }
    opts = main;
    size = fixed + encodedOptionsSize(opts) + 1;
  }
  const buf = Buffer.alloc(Math.max(MIN_REPLY_SIZE, size));
  buf[0] = m.op;
  buf[1] = m.htype;
  buf[2] = Math.min(16, m.hlen);
  buf[3] = m.hops;
  buf.writeUInt32BE(m.xid >>> 0, 4);
  buf.writeUInt16BE(m.secs & 0xffff, 8);
  buf.writeUInt16BE(m.flags & 0xffff, 10);
  putIp(buf, 12, m.ciaddr);
  putIp(buf, 16, m.yiaddr);
  putIp(buf, 20, m.siaddr);
  putIp(buf, 24, m.giaddr);
  m.chaddr.copy(buf, 28, 0, Math.min(16, m.chaddr.length));
  if (snameOpts) writeOptions(buf, SNAME_OFFSET, snameOpts);
  else buf.write(m.sname.slice(0, SNAME_SIZE - 1), SNAME_OFFSET, 'latin1');
  if (fileOpts) writeOptions(buf, FILE_OFFSET, fileOpts);
  else buf.write(m.file.slice(0, FILE_SIZE - 1), FILE_OFFSET, 'latin1');
  buf.writeUInt32BE(MAGIC_COOKIE, HEADER_SIZE);
  writeOptions(buf, HEADER_SIZE + 4, opts);
  return buf;
}

/** The client's hardware address as `aa:bb:..`, lower-case. */
export function chaddrString(m: DhcpMessage): string {
  let s = '';
  for (let i = 0; i < m.chaddr.length; i++) {
    if (i) s += ':';
    const v = m.chaddr[i];
    s += (v < 16 ? '0' : '') + v.toString(16);
  }
  return s;
}

/** The message type (option 53), or null when absent or malformed. */
export function messageType(m: DhcpMessage): number | null {
  const v = m.options.get(Opt.MESSAGE_TYPE);
  return v && v.length === 1 ? v[0] : null;
}
