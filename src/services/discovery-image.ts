/**
 * Installing the discovery image into the appliance's image directory at
 * start: images/build-discovery.sh leaves vmlinuz + initrd.img in its cache;
 * when the cache holds a different build than the image directory, the files
 * are copied (atomically, via a temporary name).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../lib/logger.js';

const FILES = ['vmlinuz', 'initrd.img', 'SHA256SUMS'] as const;

function readOr(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Make `imageDir` hold the discovery image from `cacheDir` when the cache has
 * one it lacks. Returns what happened (for the log and the health route).
 */
export function installDiscoveryImage(imageDir: string, cacheDir: string, log: Logger): 'installed' | 'current' | 'missing' {
  const have = existsSync(join(imageDir, 'vmlinuz')) && existsSync(join(imageDir, 'initrd.img'));
  const cacheSums = cacheDir ? readOr(join(cacheDir, 'SHA256SUMS')) : null;
  if (!cacheSums || !FILES.every((f) => existsSync(join(cacheDir, f)))) {
    if (!have) log.warn('no discovery image: run images/build-discovery.sh (scripts/setup.sh does as root)', { image_dir: imageDir, cache: cacheDir });
    return have ? 'current' : 'missing';
  }
  if (have && readOr(join(imageDir, 'SHA256SUMS')) === cacheSums) return 'current';
  mkdirSync(imageDir, { recursive: true });
  for (const f of FILES) {
    const tmp = join(imageDir, `.${f}.tmp`);
    copyFileSync(join(cacheDir, f), tmp);
    renameSync(tmp, join(imageDir, f));
  }
  log.info('discovery image installed', { image_dir: imageDir, from: cacheDir });
  return 'installed';
}
