/**
 * DNS domain names on the wire (RFC 1035 §3.1, §4.1.4): decoding with every
 * limit checked (labels of at most 63 octets, names of at most 255 octets,
 * compression pointers that may only point backwards, so loops are
 * impossible) and the presentation form used in this module.
 *
 * Presentation form: labels joined by '.', no trailing dot, '' for the root.
 * Octets outside [!-~] and the characters '.' and '\' are escaped as `\DDD`
 * / `\.` / `\\` (RFC 1035 §5.1), so any wire name round-trips.
 */
import { CrowbarError } from '../../lib/errors.js';

/** RFC 1035 §2.3.4: at most 63 octets per label. */
export const MAX_LABEL = 63;
/** RFC 1035 §2.3.4: at most 255 octets per name (wire form, with length octets). */
export const MAX_NAME = 255;

function malformed(msg: string): CrowbarError {
  return new CrowbarError('protocol.malformed', `dns: ${msg}`);
}

/** A decoded name and the offset right after it in the message. */
export interface DecodedName {
  name: string;
  next: number;
}

function labelText(buf: Buffer, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len; i++) {
    const c = buf[i];
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

/**
 * Decode the name at `offset`. RFC 1035 §4.1.4: a pointer (two top bits set)
 * refers to an earlier occurrence; we require each pointer to point strictly
 * before the position where the previous jump landed, which rules out loops.
 * The 0b01/0b10 label types (RFC 6891 §5 deprecated extended labels) are
 * rejected.
 */
export function decodeName(buf: Buffer, offset: number): DecodedName {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let wireLen = 1; // the terminating root octet
  let limit = offset; // a pointer must point before this
  for (;;) {
    if (pos >= buf.length) throw malformed('name runs past the end of the message');
    const len = buf[pos];
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw malformed('truncated compression pointer');
      const target = ((len & 0x3f) << 8) | buf[pos + 1];
      if (next < 0) next = pos + 2;
      if (target >= limit) throw malformed('compression pointer does not point backwards');
      limit = target;
      pos = target;
      continue;
    }
    if (kind !== 0) throw malformed(`unsupported label type 0x${kind.toString(16)}`);
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { name: labels.join('.'), next };
    }
    if (len > MAX_LABEL) throw malformed('label longer than 63 octets');
    wireLen += len + 1;
    if (wireLen > MAX_NAME) throw malformed('name longer than 255 octets');
    if (pos + 1 + len > buf.length) throw malformed('label runs past the end of the message');
    labels.push(labelText(buf, pos + 1, len));
    pos += 1 + len;
  }
}

/** Split a presentation-form name into wire labels (escapes resolved). */
export function nameToLabels(name: string): Buffer[] {
  if (name === '' || name === '.') return [];
  const out: Buffer[] = [];
  let cur: number[] = [];
  const n = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  for (let i = 0; i < n.length; i++) {
    const ch = n.charCodeAt(i);
    if (ch === 0x5c) {
      const d = /^\d{3}/.exec(n.slice(i + 1, i + 4));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw malformed(`bad escape in ${JSON.stringify(name)}`);
        cur.push(v);
        i += 3;
      } else {
        if (i + 1 >= n.length) throw malformed(`dangling escape in ${JSON.stringify(name)}`);
        cur.push(n.charCodeAt(++i) & 0xff);
      }
    } else if (ch === 0x2e) {
      if (cur.length === 0) throw malformed(`empty label in ${JSON.stringify(name)}`);
      out.push(Buffer.from(cur));
      cur = [];
    } else {
      if (ch > 0xff) throw malformed(`non-octet character in ${JSON.stringify(name)}`);
      cur.push(ch);
    }
  }
  if (cur.length === 0) throw malformed(`empty label in ${JSON.stringify(name)}`);
  out.push(Buffer.from(cur));
  let wire = 1;
  for (const l of out) {
    if (l.length > MAX_LABEL) throw malformed(`label longer than 63 octets in ${JSON.stringify(name)}`);
    wire += l.length + 1;
  }
  if (wire > MAX_NAME) throw malformed(`name longer than 255 octets: ${JSON.stringify(name)}`);
  return out;
}

/** Canonical (lower-case ASCII, RFC 4343) form of a presentation name, without trailing dot. */
export function canonicalName(name: string): string {
  const n = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  return n.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** True when `name` equals `zone` or lies below it (both canonical). */
export function isSubdomain(name: string, zone: string): boolean {
  if (zone === '') return true;
  if (name === zone) return true;
  return name.length > zone.length && name.endsWith(zone) && name.charCodeAt(name.length - zone.length - 1) === 0x2e;
}
