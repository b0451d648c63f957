/**
 * Import of OS media into `<data_dir>/os/<name>/`. This file handles
 * directories that describe themselves with a `crowbar-os.json` manifest
 * (root images built by images/build-rootfs.sh, or any prepared tree); the
 * tree is copied next to the final place and renamed into it, so a failed
 * import leaves the previous medium of that name intact.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, createReadStream, promises as fsp } from 'node:fs';
import { basename, isAbsolute, join, normalize, sep } from 'node:path';
import type { Clock } from '../lib/clock.js';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { OS_FAMILIES, type OsFamily, type OsMedia } from '../model/os.js';
import type { OsMediaRepo } from '../store/os-media.js';

/** Name of the manifest file in a self-describing media directory. */
export const OS_MANIFEST = 'crowbar-os.json';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The manifest's fields (`crowbar-os.json`). */
export interface OsManifest {
  name: string;
  family: OsFamily;
  version: string;
  arch: string;
  method: 'installer' | 'image';
  kernel?: string;
  initrd?: string;
  image?: string;
  /** Hex SHA-256 of `image`; verified on import when present. */
  sha256?: string;
  [k: string]: unknown;
}

function relFile(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '' || isAbsolute(v) || normalize(v).split(sep).includes('..') || v.includes('\0')) throw new CrowbarError('bad_request', `manifest field ${field} must be a relative path inside the medium`);
  return normalize(v);
}

/** Validate a parsed manifest; throws bad_request naming the first problem. */
export function parseManifest(raw: unknown): OsManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CrowbarError('bad_request', `${OS_MANIFEST} must hold a JSON object`);
  const m = raw as Record<string, unknown>;
  if (typeof m.name !== 'string' || !NAME.test(m.name)) throw new CrowbarError('bad_request', `manifest name must match ${NAME.source}`);
  if (typeof m.family !== 'string' || !(OS_FAMILIES as readonly string[]).includes(m.family)) throw new CrowbarError('bad_request', `manifest family must be one of ${OS_FAMILIES.join(', ')}`);
  if (typeof m.version !== 'string' || !/^[0-9A-Za-z._-]{1,32}$/.test(m.version)) throw new CrowbarError('bad_request', 'manifest version is missing or malformed');
  if (typeof m.arch !== 'string' || !/^[a-z0-9_]{1,16}$/.test(m.arch)) throw new CrowbarError('bad_request', 'manifest arch is missing or malformed');
  if (m.method !== 'installer' && m.method !== 'image') throw new CrowbarError('bad_request', "manifest method must be 'installer' or 'image'");
  const out: OsManifest = { ...m, name: m.name, family: m.family as OsFamily, version: m.version, arch: m.arch, method: m.method };
  if (m.method === 'image') out.image = relFile(m.image, 'image');
  else {
    out.kernel = relFile(m.kernel, 'kernel');
    out.initrd = relFile(m.initrd, 'initrd');
  }
  if (m.sha256 !== undefined && (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256))) throw new CrowbarError('bad_request', 'manifest sha256 must be 64 lowercase hex digits');
  return out;
}

/** SHA-256 hex of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Copy a media tree into `dst` (which must not exist): files are hard-linked
 * when source and destination share a file system (a root image of hundreds
 * of MB is then registered without a second copy; the build replaces its
 * files by rename, never in place), otherwise copied. Symbolic links are
 * kept as links (file serving refuses any that leave the medium); special
 * files are refused.
 */
export async function linkOrCopyTree(src: string, dst: string): Promise<void> {
  await fsp.mkdir(dst, { mode: 0o755 });
  for (const e of await fsp.readdir(src, { withFileTypes: true })) {
    const from = join(src, e.name);
    const to = join(dst, e.name);
    if (e.isDirectory()) await linkOrCopyTree(from, to);
    else if (e.isFile()) {
      await fsp.link(from, to).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV' && err.code !== 'EPERM' && err.code !== 'EACCES') throw err;
        await fsp.copyFile(from, to, fsConstants.COPYFILE_EXCL);
      });
    } else if (e.isSymbolicLink()) await fsp.symlink(await fsp.readlink(from), to);
    else throw new CrowbarError('bad_request', `${from}: not a plain file, directory or symbolic link`);
  }
}

/** Imports and removes OS media under one directory. */
export class OsImporter {
  constructor(
    private readonly repo: OsMediaRepo,
    /** `<data_dir>/os`. */
    private readonly root: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Where a medium named `name` lives. */
  dirOf(name: string): string {
    return join(this.root, name);
  }

  /**
   * Import a directory holding `crowbar-os.json`: validate the manifest,
   * check that the files it names exist (and the image checksum when
   * given), copy the tree into place atomically and register it.
   */
  async importDirectory(src: string): Promise<OsMedia> {
    if (!isAbsolute(src)) throw new CrowbarError('bad_request', 'import path must be absolute (a path on the appliance)');
    let raw: string;
    try {
      raw = await fsp.readFile(join(src, OS_MANIFEST), 'utf8');
    } catch (e) {
      throw new CrowbarError('bad_request', `${src}: no readable ${OS_MANIFEST} (${errorMessage(e)})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      throw new CrowbarError('bad_request', `${src}/${OS_MANIFEST}: ${errorMessage(e)}`);
    }
    const m = parseManifest(parsed);
    for (const f of [m.image, m.kernel, m.initrd]) if (f !== undefined && !(await isFile(join(src, f)))) throw new CrowbarError('bad_request', `${src}: ${f} named by the manifest is not a file`);
    if (m.image && m.sha256) {
      const got = await sha256File(join(src, m.image));
      if (got !== m.sha256) throw new CrowbarError('bad_request', `${src}/${m.image}: sha256 ${got} does not match the manifest's ${m.sha256}`);
    }
    return this.install(m, (tmp) => linkOrCopyTree(src, tmp));
  }

  /**
   * Put a medium in place: `fill` writes the tree into a temporary
   * directory next to the destination, which then replaces any previous
   * medium of that name in one rename. Also used by the ISO importer.
   */
  async install(m: OsManifest, fill: (tmp: string) => Promise<void>): Promise<OsMedia> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o755 });
    const dest = this.dirOf(m.name);
    const tmp = join(this.root, `.import-${basename(m.name)}-${process.pid}-${this.clock.now()}`);
    const old = `${tmp}.old`;
    try {
      await fill(tmp);
      await fsp.writeFile(join(tmp, OS_MANIFEST), JSON.stringify(m, null, 2) + '\n');
      await fsp.chmod(tmp, 0o755);
      const had = await fsp.rename(dest, old).then(
        () => true,
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return false;
          throw e;
        },
      );
      await fsp.rename(tmp, dest);
      if (had) await fsp.rm(old, { recursive: true, force: true });
    } catch (e) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw e;
    }
    const { name, family, version, arch, method, kernel, initrd, image, ...rest } = m;
    const medium: OsMedia = { name, family, version, arch, method, dir: dest, kernel: kernel ?? null, initrd: initrd ?? null, image: image ?? null, meta: rest, imported_at: this.clock.now() };
    if (image) medium.meta.size = (await fsp.stat(join(dest, image))).size;
    this.repo.put(medium);
    this.log.info('OS medium imported', { name, method, dir: dest });
    return medium;
  }

  /** Unregister a medium and delete its tree (only trees under our root are deleted). */
  async remove(name: string): Promise<void> {
    const m = this.repo.get(name);
    if (!m) throw new CrowbarError('not_found', `OS ${name} is not imported`);
    this.repo.remove(name);
    if (m.dir.startsWith(this.root + sep)) await fsp.rm(m.dir, { recursive: true, force: true });
    this.log.info('OS medium removed', { name });
  }
}
