/**
 * Registering the root image built by images/build-root-image.sh as an OS
 * medium at start (like the discovery image is installed): when the build
 * cache holds a `crowbar-os.json` whose image checksum differs from the
 * registered medium of that name (or none is registered), the directory is
 * imported (copied into <data_dir>/os/<name>, checksum verified).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { OsMediaRepo } from '../store/os-media.js';
import { OS_MANIFEST, parseManifest, type OsImporter } from './os-import.js';

/**
 * Import the cached root image when it is new. Returns what happened: 'imported',
 * 'current', 'missing' (no build in the cache) or 'failed' (logged).
 */
export async function registerRootImage(cacheDir: string, repo: OsMediaRepo, importer: OsImporter, log: Logger): Promise<'imported' | 'current' | 'missing' | 'failed'> {
  if (!cacheDir) return 'missing';
  let raw: string;
  try {
    raw = await readFile(join(cacheDir, OS_MANIFEST), 'utf8');
  } catch {
    log.info('no root image: run images/build-root-image.sh (scripts/setup.sh does as root)', { cache: cacheDir });
    return 'missing';
  }
  try {
    const m = parseManifest(JSON.parse(raw));
    const have = repo.get(m.name);
    if (have && have.meta.sha256 === m.sha256) return 'current';
    await importer.importDirectory(cacheDir);
    log.info('root image registered', { name: m.name, sha256: m.sha256 });
    return 'imported';
  } catch (e) {
    log.warn('root image import failed', { cache: cacheDir, error: errorMessage(e) });
    return 'failed';
  }
}
