/**
 * `crowbar os import ISO|DIR`: a directory with `crowbar-os.json` goes
 * straight to the OS importer; any other directory or an ISO image
 * (extracted with `xorriso -osirrox on`) is recognised (src/services/os-detect.ts),
 * completed (the ISO kept for subiquity, a d-i netboot kernel/initrd added
 * for a Debian ISO) and registered with a generated manifest.
 */
import { promises as fsp } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import type { CommandRunner } from '../lib/command.js';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { OsMedia } from '../model/os.js';
import { detectTree } from './os-detect.js';
import { OS_MANIFEST, type OsImporter } from './os-import.js';

/** Settings of the media import. */
export interface MediaImportOptions {
  /** Where ISOs are extracted before they are put in place (same file system as the OS root). */
  stagingDir: string;
  /** Root of Debian's installer images (`debian-installer-<N>-netboot-<arch>`): `<root>/<N>/<arch>/text`. */
  netbootRoot: string;
  /** Extraction time limit. */
  timeoutMs: number;
}

async function kind(p: string): Promise<'dir' | 'file' | null> {
  try {
    const st = await fsp.stat(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

/** Imports OS media from ISOs and directories. */
export class MediaImport {
  constructor(
    private readonly importer: OsImporter,
    private readonly run: CommandRunner,
    private readonly o: MediaImportOptions,
    private readonly log: Logger,
    private readonly stamp: () => number,
  ) {}

  /** Import `path` (an absolute path on the appliance). */
  async importPath(path: string): Promise<OsMedia> {
    if (!isAbsolute(path)) throw new CrowbarError('bad_request', 'import path must be absolute (a path on the appliance)');
    const k = await kind(path);
    if (k === null) throw new CrowbarError('bad_request', `${path}: no such file or directory`);
    if (k === 'dir') {
      if ((await kind(join(path, OS_MANIFEST))) === 'file') return this.importer.importDirectory(path);
      return this.importTree(path, null, async (tmp) => {
        await fsp.cp(path, tmp, { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false });
      });
    }
    if (!/\.iso$/i.test(path)) throw new CrowbarError('bad_request', `${path}: not a directory or an .iso file`);
    await fsp.mkdir(this.o.stagingDir, { recursive: true, mode: 0o700 });
    const stage = join(this.o.stagingDir, `.iso-${process.pid}-${this.stamp()}`);
    try {
      await this.extract(path, stage);
      return await this.importTree(stage, path, async (tmp) => {
        await fsp.rename(stage, tmp);
      });
    } finally {
      await fsp.rm(stage, { recursive: true, force: true });
    }
  }

  private async extract(iso: string, dest: string): Promise<void> {
    await fsp.mkdir(dest, { recursive: true, mode: 0o755 });
    let r;
    try {
      r = await this.run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', dest], { timeoutMs: this.o.timeoutMs });
    } catch (e) {
      throw new CrowbarError('service.failed', `xorriso cannot run (install the xorriso package): ${errorMessage(e)}`);
    }
    // xorriso exits 0 on a file without an ISO 9660 volume (it "creates a blank image").
    if (/No ISO 9660 image/.test(r.stderr)) throw new CrowbarError('bad_request', `${iso}: not an ISO 9660 image (xorriso could not extract it)`);
    if (r.code !== 0) throw new CrowbarError('bad_request', `${iso}: xorriso could not extract it: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 300)}`);
    // ISO 9660 files come out read-only; the tree must be removable later.
    await chmodTree(dest);
  }

  private async importTree(dir: string, iso: string | null, fill: (tmp: string) => Promise<void>): Promise<OsMedia> {
    const d = detectTree(dir);
    const m = d.manifest;
    let netboot: string | null = null;
    if (d.needsIso && !iso) throw new CrowbarError('bad_request', `${m.name}: import the live-server ISO itself (subiquity downloads it with url=), not its extracted tree`);
    if (d.needsNetboot) {
      const nb = join(this.o.netbootRoot, m.version.split('.')[0], m.arch, 'text', 'debian-installer', m.arch);
      if ((await kind(join(nb, 'linux'))) !== 'file' || (await kind(join(nb, 'initrd.gz'))) !== 'file')
        throw new CrowbarError('bad_request', `${m.name}: the ISO's installer boots from CD only; a network boot needs the debian-installer netboot images at ${nb} (package debian-installer-${m.version.split('.')[0]}-netboot-${m.arch}, same point release as the ISO)`);
      netboot = nb;
      m.kernel = 'crowbar-netboot/linux';
      m.initrd = 'crowbar-netboot/initrd.gz';
      m.netboot_source = nb;
    }
    if (d.needsIso) m.iso = `${m.name}.iso`;
    this.log.info('importing OS tree', { name: m.name, from: iso ?? dir });
    return this.importer.install(m, async (tmp) => {
      await fill(tmp);
      if (netboot) {
        await fsp.mkdir(join(tmp, 'crowbar-netboot'), { recursive: true });
        await fsp.copyFile(join(netboot, 'linux'), join(tmp, 'crowbar-netboot', 'linux'));
        await fsp.copyFile(join(netboot, 'initrd.gz'), join(tmp, 'crowbar-netboot', 'initrd.gz'));
      }
      if (iso && d.needsIso) await fsp.copyFile(iso, join(tmp, basename(String(m.iso))));
    });
  }
}

async function chmodTree(dir: string): Promise<void> {
  await fsp.chmod(dir, 0o755);
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await chmodTree(p);
    else if (e.isFile()) await fsp.chmod(p, 0o644);
  }
}
