/**
 * Safe unpacking of a barclamp archive (tar or tar.gz). Installing a
 * barclamp is code execution on every node, so the archive is treated as
 * hostile until proven otherwise (design.md §4):
 *  - every entry is checked BEFORE anything is written: only regular files
 *    and directories; symlinks, hard links, devices and FIFOs are refused;
 *    absolute paths, `..` segments, backslashes and NUL are refused;
 *  - sizes are bounded (compressed, uncompressed, entry count);
 *  - files are created with O_EXCL|O_NOFOLLOW inside a fresh directory, so
 *    even a bug in the checks cannot follow a link out of it;
 *  - modes are masked to 0755/0644 (no setuid, no world-writable files).
 * A refused archive writes nothing at all.
 */
import { constants, mkdirSync, openSync, writeSync, closeSync, existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { readTar, type TarEntry } from '../lib/tar.js';

/** Bounds for an archive. */
export interface ArchiveLimits {
  maxCompressedBytes: number;
  maxUncompressedBytes: number;
  maxEntries: number;
}

/** Default bounds: barclamps are small (scripts, templates, cookbooks). */
export const DEFAULT_LIMITS: ArchiveLimits = { maxCompressedBytes: 32 * 1024 * 1024, maxUncompressedBytes: 128 * 1024 * 1024, maxEntries: 5000 };

/** A checked archive member ready to be written. */
export interface SafeEntry {
  /** Relative path with '/' separators, no leading './', no top-level directory. */
  path: string;
  type: 'file' | 'directory';
  mode: number;
  data: Buffer;
}

/** Decompress when gzip (magic 1f 8b), else return the buffer as a plain tar. */
export function gunzipIfNeeded(buf: Buffer, limits: ArchiveLimits = DEFAULT_LIMITS): Buffer {
  if (buf.length > limits.maxCompressedBytes) throw new CrowbarError('too_large', `archive larger than ${limits.maxCompressedBytes} bytes`);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return gunzipSync(buf, { maxOutputLength: limits.maxUncompressedBytes });
    } catch (e) {
      const msg = errorMessage(e);
      if (/maxOutputLength|buffer length|larger than/i.test(msg) || (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw new CrowbarError('too_large', `archive expands beyond ${limits.maxUncompressedBytes} bytes`);
      throw new CrowbarError('bad_request', `archive is not valid gzip: ${msg}`);
    }
  }
  return buf;
}

/** Check one stored path; returns its normalised relative form or throws. */
export function checkEntryPath(raw: string): string {
  if (raw.includes('\0')) throw new CrowbarError('bad_request', `archive entry ${JSON.stringify(raw)}: NUL in path`);
  if (raw.includes('\\')) throw new CrowbarError('bad_request', `archive entry ${JSON.stringify(raw)}: backslash in path refused`);
  if (raw.startsWith('/')) throw new CrowbarError('bad_request', `archive entry ${JSON.stringify(raw)}: absolute path refused`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) return '';
  for (const p of parts) if (p === '..') throw new CrowbarError('bad_request', `archive entry ${JSON.stringify(raw)}: '..' path segment refused`);
  return parts.join('/');
}

/**
 * Validate all entries of a tar buffer: returns the safe entries (with a
 * single common top-level directory stripped when crowbar.yml is inside it)
 * or throws on the first refused entry.
 */
export function checkArchive(tar: Buffer, limits: ArchiveLimits = DEFAULT_LIMITS): SafeEntry[] {
  let entries: TarEntry[];
  entries = readTar(tar, limits.maxEntries);
  const out: SafeEntry[] = [];
  let total = 0;
  const kinds = new Map<string, 'file' | 'directory'>();
  for (const e of entries) {
    if (e.type !== 'file' && e.type !== 'directory')
      throw new CrowbarError('bad_request', `archive entry ${JSON.stringify(e.path)}: ${e.type} refused (only regular files and directories are allowed)`);
    const path = checkEntryPath(e.path);
    if (path === '') continue;
    total += e.size;
    if (total > limits.maxUncompressedBytes) throw new CrowbarError('too_large', `archive contents exceed ${limits.maxUncompressedBytes} bytes`);
    const prev = kinds.get(path);
    if (prev && (prev !== e.type || e.type === 'file')) throw new CrowbarError('bad_request', `archive entry ${JSON.stringify(e.path)}: duplicate path`);
    kinds.set(path, e.type);
    out.push({ path, type: e.type, mode: e.type === 'directory' ? 0o755 : e.mode & 0o111 ? 0o755 : 0o644, data: e.data });
  }
  // A file may not sit where a directory is needed (a/b as file and a/b/c).
  for (const [p] of kinds) {
    const segs = p.split('/');
    for (let i = 1; i < segs.length; i++) {
      if (kinds.get(segs.slice(0, i).join('/')) === 'file') throw new CrowbarError('bad_request', `archive entry ${JSON.stringify(p)}: parent is a file`);
    }
  }
  if (!kinds.has('crowbar.yml')) {
    const tops = new Set(out.map((e) => e.path.split('/')[0]));
    if (tops.size === 1) {
      const top = [...tops][0];
      if (kinds.get(`${top}/crowbar.yml`) === 'file')
        return out.filter((e) => e.path !== top).map((e) => ({ ...e, path: e.path.slice(top.length + 1) }));
    }
    throw new CrowbarError('bad_request', 'archive has no crowbar.yml (at its root or in one top-level directory)');
  }
  return out;
}

/**
 * Write checked entries into `dir`, which must not exist yet (it is created
 * 0755). Files are opened with O_EXCL|O_NOFOLLOW.
 */
export function writeEntries(dir: string, entries: readonly SafeEntry[]): void {
  const root = resolve(dir);
  if (existsSync(root)) throw new CrowbarError('conflict', `extraction target ${root} already exists`);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const inside = (p: string): string => {
    const abs = resolve(root, p);
    if (!abs.startsWith(root + sep)) throw new CrowbarError('bad_request', `archive entry ${JSON.stringify(p)} escapes the target`);
    return abs;
  };
  for (const e of entries) {
    const abs = inside(e.path);
    if (e.type === 'directory') {
      mkdirSync(abs, { recursive: true, mode: 0o755 });
      continue;
    }
    mkdirSync(join(abs, '..'), { recursive: true, mode: 0o755 });
    const fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, e.mode);
    try {
      let off = 0;
      while (off < e.data.length) off += writeSync(fd, e.data, off, e.data.length - off);
    } finally {
      closeSync(fd);
    }
  }
}
