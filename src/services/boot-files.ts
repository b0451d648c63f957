/**
 * The boot file source shared by TFTP and `GET /boot/files/...`: static files
 * under the TFTP root, named prefix roots (`discovery/` -> the discovery
 * image directory) and generated files (per-node boot configs).
 *
 * Confinement (design section 4): a path is refused (CrowbarError 'forbidden')
 * when it is absolute, has an empty, `.` or `..` segment, contains NUL, a
 * control character, a backslash or `%` (no encoded tricks), is over 1024
 * bytes, or when the opened file's real path (read back from /proc/self/fd,
 * so a symlink swapped after the check cannot win) is outside the real path
 * of its root. Only regular, world-readable files are served: the process
 * usually runs as root, and a file another user could not read is not a
 * boot file.
 */
import { promises as fsp, constants as FS } from 'node:fs';
import { join, sep } from 'node:path';
import { CrowbarError } from '../lib/errors.js';
import { bufferFile, type FileRequest, type FileSource, type SourceFile } from '../protocols/tftp/source.js';

// The file-source interface belongs to the TFTP protocol module; re-exported for the HTTP layer.
export type { FileRequest, FileSource, SourceFile } from '../protocols/tftp/source.js';

/** A generator produces a file's bytes for a request, or null when it has none. */
export type FileGenerator = (req: FileRequest, rest: string) => Promise<Buffer | null> | Buffer | null;

/** A directory served under a path prefix. */
export interface PrefixRoot {
  /** First path segment, e.g. "discovery". */
  prefix: string;
  dir: string;
}

/** Options of the boot file source. */
export interface BootFileSourceOptions {
  /** Root for paths without a named prefix (config.services.tftp.root). */
  root: string;
  prefixes?: PrefixRoot[];
  /** Clock for generated files' mtime. */
  now: () => number;
}

const MAX_PATH = 1024;
// NUL, C0 controls, DEL, backslash and percent are never part of a boot file name.
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\u0000-\u001f\u007f\\%]/;

/** Split and check a request path; throws forbidden on any trick. */
export function safeSegments(path: string): string[] {
  if (path.length === 0) throw new CrowbarError('forbidden', 'empty path');
  if (Buffer.byteLength(path) > MAX_PATH) throw new CrowbarError('forbidden', 'path too long');
  if (BAD_CHARS.test(path)) throw new CrowbarError('forbidden', 'path contains a forbidden character');
  if (path.startsWith('/')) throw new CrowbarError('forbidden', 'absolute paths are not served');
  const segs = path.split('/');
  for (const s of segs) {
    if (s === '' || s === '.' || s === '..') throw new CrowbarError('forbidden', 'path has an empty, "." or ".." segment');
  }
  return segs;
}

/** FileSource over static roots, prefix roots and generators. */
export class BootFileSource implements FileSource {
  private readonly generators: Array<{ prefix: string; gen: FileGenerator }> = [];
  private readonly prefixes = new Map<string, string>();

  constructor(private readonly o: BootFileSourceOptions) {
    for (const p of o.prefixes ?? []) this.addPrefix(p.prefix, p.dir);
  }

  /** Serve directory `dir` under `prefix/`. */
  addPrefix(prefix: string, dir: string): void {
    if (!/^[A-Za-z0-9._-]+$/.test(prefix) || prefix === '.' || prefix === '..') throw new CrowbarError('bad_request', `bad boot file prefix ${JSON.stringify(prefix)}`);
    this.prefixes.set(prefix, dir);
  }

  /**
   * Generate files whose path starts with `prefix` (e.g. "pxelinux.cfg/" or an
   * exact name). The generator receives the rest of the path after the prefix.
   * Generators are consulted before static files, longest prefix first.
   */
  addGenerator(prefix: string, gen: FileGenerator): void {
    if (prefix.length === 0) throw new CrowbarError('bad_request', 'generator prefix must not be empty');
    this.generators.push({ prefix, gen });
    this.generators.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The directory a static path resolves into and the path inside it. */
  private locate(segs: string[]): { dir: string; rel: string[] } {
    const named = segs.length > 1 ? this.prefixes.get(segs[0]) : undefined;
    if (named !== undefined) return { dir: named, rel: segs.slice(1) };
    return { dir: this.o.root, rel: segs };
  }

  async open(req: FileRequest): Promise<SourceFile | null> {
    const segs = safeSegments(req.path);
    const clean = segs.join('/');
    for (const g of this.generators) {
      if (clean.startsWith(g.prefix)) {
        const data = await g.gen(req, clean.slice(g.prefix.length));
        return data ? bufferFile(data, this.o.now()) : null;
      }
    }
    const { dir, rel } = this.locate(segs);
    return openConfined(dir, rel);
  }
}

async function realDir(dir: string): Promise<string | null> {
  try {
    return await fsp.realpath(dir);
  } catch {
    return null;
  }
}

/** Open `dir/rel` read-only if it is a world-readable regular file whose real path stays inside `dir`. */
export async function openConfined(dir: string, rel: string[]): Promise<SourceFile | null> {
  const root = await realDir(dir);
  if (root === null) return null;
  let fh: fsp.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO planted in the root must not hang the server.
    fh = await fsp.open(join(root, ...rel), FS.O_RDONLY | FS.O_NONBLOCK | FS.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG') return null;
    if (code === 'EACCES' || code === 'EPERM') throw new CrowbarError('forbidden', 'permission denied');
    throw e;
  }
  try {
    // The real path of what we actually opened (race-free against symlink swaps).
    const real = await fsp.readlink(`/proc/self/fd/${fh.fd}`);
    if (!(real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) throw new CrowbarError('forbidden', 'path leaves its root');
    const st = await fh.stat();
    if (!st.isFile()) {
      if (st.isDirectory()) return closeAnd(fh, null);
      throw new CrowbarError('forbidden', 'not a regular file');
    }
    if ((st.mode & 0o004) === 0) throw new CrowbarError('forbidden', 'file is not world-readable');
    const size = st.size;
    let closed = false;
    return {
      size,
      mtimeMs: st.mtimeMs,
      fd: fh.fd,
      async read(buf, offset, length, position) {
        if (position >= size) return 0;
        const { bytesRead } = await fh.read(buf, offset, Math.min(length, size - position), position);
        return bytesRead;
      },
      async close() {
        if (closed) return;
        closed = true;
        await fh.close();
      },
    };
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

async function closeAnd<T>(fh: fsp.FileHandle, v: T): Promise<T> {
  await fh.close().catch(() => {});
  return v;
}
