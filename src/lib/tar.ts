/**
 * A pure ustar (POSIX.1-1988 / pax) tar codec: `readTar(Buffer)` lists the
 * entries of an uncompressed archive without touching the file system, and
 * `writeTar(entries)` builds one. Layout (POSIX.1-2017 "pax" spec, ustar
 * Interchange Format): 512-byte header blocks, octal numeric fields, file
 * data padded to 512 bytes, archive ends with two zero blocks. Supported
 * header types: '0'/'\0' regular file, '5' directory, '1' hard link, '2'
 * symlink, '3'/'4' devices, '6' FIFO, 'x'/'g' pax headers (path, linkpath,
 * size), 'L'/'K' GNU long names. Policy (what is allowed) is the caller's:
 * this module only reports what the archive contains.
 */
import { CrowbarError } from './errors.js';

const BLOCK = 512;

/** Kinds of tar entries. */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'other';

/** One archive member as read from the archive. */
export interface TarEntry {
  /** Path as stored (pax/GNU long names applied; ustar prefix joined). */
  path: string;
  type: TarEntryType;
  /** Raw type flag character. */
  typeflag: string;
  mode: number;
  size: number;
  /** Link target for symlinks and hard links. */
  linkname: string;
  mtime: number;
  /** File contents (empty for non-files). */
  data: Buffer;
}

/** An entry to write. */
export interface TarInput {
  path: string;
  type?: 'file' | 'directory' | 'symlink' | 'hardlink';
  mode?: number;
  mtime?: number;
  linkname?: string;
  data?: Buffer | string;
}

function cstring(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z === -1 ? s : s.subarray(0, z)).toString('utf8');
}

function octal(b: Buffer, off: number, len: number, field: string): number {
  // GNU base-256 for large values: high bit of the first byte set.
  if (b[off] & 0x80) {
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    if (!Number.isSafeInteger(v)) throw new CrowbarError('bad_request', `tar: ${field} too large`);
    return v;
  }
  const s = cstring(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new CrowbarError('bad_request', `tar: bad octal ${field} ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function checksumOf(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum;
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '':
    case '7':
      return 'file';
    case '5':
      return 'directory';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/** Parse pax extended header records ("%d key=value\n"). */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = Number(data.subarray(i, sp).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) throw new CrowbarError('bad_request', 'tar: malformed pax header');
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Parse an uncompressed tar archive. Throws `bad_request` on a bad checksum,
 * truncated data or malformed numbers. `maxEntries` bounds the work.
 */
export function readTar(buf: Buffer, maxEntries = 10_000): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let pax: Record<string, string> = {};
  let longName: string | null = null;
  let longLink: string | null = null;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((x) => x === 0)) break; // end-of-archive marker
    const sum = octal(h, 148, 8, 'checksum');
    if (sum !== checksumOf(h)) throw new CrowbarError('bad_request', `tar: header checksum mismatch at offset ${off}`);
    const flag = String.fromCharCode(h[156]);
    // A pax 'size' record overrides the header field (files over 8 GiB).
    const paxSize = flag !== 'x' && flag !== 'g' && pax.size !== undefined ? Number(pax.size) : NaN;
    if (pax.size !== undefined && flag !== 'x' && flag !== 'g' && (!Number.isSafeInteger(paxSize) || paxSize < 0)) throw new CrowbarError('bad_request', 'tar: bad pax size');
    const size = Number.isNaN(paxSize) ? octal(h, 124, 12, 'size') : paxSize;
    const dataStart = off + BLOCK;
    if (dataStart + size > buf.length) throw new CrowbarError('bad_request', `tar: truncated archive (entry at offset ${off} needs ${size} bytes)`);
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x') {
      pax = { ...pax, ...parsePax(data) };
      continue;
    }
    if (flag === 'g') continue; // global pax header: no per-entry meaning for us
    if (flag === 'L') {
      longName = cstring(data, 0, data.length);
      continue;
    }
    if (flag === 'K') {
      longLink = cstring(data, 0, data.length);
      continue;
    }
    const magic = h.subarray(257, 263).toString('latin1');
    const prefix = magic.startsWith('ustar') ? cstring(h, 345, 155) : '';
    let path = cstring(h, 0, 100);
    if (prefix) path = `${prefix}/${path}`;
    if (longName !== null) path = longName;
    if (pax.path !== undefined) path = pax.path;
    let linkname = cstring(h, 157, 100);
    if (longLink !== null) linkname = longLink;
    if (pax.linkpath !== undefined) linkname = pax.linkpath;
    const type = typeOf(flag);
    entries.push({
      path,
      type,
      typeflag: flag,
      mode: octal(h, 100, 8, 'mode'),
      size: type === 'file' ? size : 0,
      linkname,
      mtime: octal(h, 136, 12, 'mtime'),
      data: type === 'file' ? data : Buffer.alloc(0),
    });
    if (entries.length > maxEntries) throw new CrowbarError('too_large', `tar: more than ${maxEntries} entries`);
    pax = {};
    longName = null;
    longLink = null;
  }
  return entries;
}

function writeOctal(h: Buffer, off: number, len: number, v: number): void {
  h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
}

function header(path: string, flag: string, mode: number, size: number, mtime: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(path, 0, 100, 'utf8');
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h[156] = flag.charCodeAt(0);
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.fill(32, 148, 156);
  const sum = checksumOf(h);
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function pad(n: number): Buffer {
  const r = n % BLOCK;
  return Buffer.alloc(r === 0 ? 0 : BLOCK - r);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Build an uncompressed ustar archive (pax headers for names over 100 bytes). */
export function writeTar(entries: readonly TarInput[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? (typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0))) : Buffer.alloc(0);
    const flag = { file: '0', directory: '5', symlink: '2', hardlink: '1' }[type];
    const mode = e.mode ?? (type === 'directory' ? 0o755 : 0o644);
    const mtime = e.mtime ?? 0;
    const linkname = e.linkname ?? '';
    let name = e.path;
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(linkname) > 100) {
      const rec = Buffer.from(paxRecord('path', name) + (linkname ? paxRecord('linkpath', linkname) : ''));
      parts.push(header('PaxHeader', 'x', 0o644, rec.length, mtime, ''), rec, pad(rec.length));
      name = name.slice(0, 99);
    }
    parts.push(header(name, flag, mode, data.length, mtime, linkname.slice(0, 100)), data, pad(data.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
