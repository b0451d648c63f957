/**
 * Makes the iPXE first-stage loaders from Debian's `ipxe` package available
 * in the TFTP root (BRIEF contract: undionly.kpxe, ipxe.efi, snponly.efi).
 * They are copied, not symlinked: the boot file source refuses symlinks that
 * leave the root. A file already present in the root is left alone (an
 * operator may have put a custom build there).
 */
import { constants as FS, copyFileSync, chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

/** The loaders the DHCP policy hands out. */
export const IPXE_LOADERS = ['undionly.kpxe', 'ipxe.efi', 'snponly.efi'] as const;

/** Result of provisioning: what was copied, what was present, what is missing. */
export interface LoaderReport {
  copied: string[];
  present: string[];
  missing: string[];
}

/** Copy missing loaders from `ipxeDir` into `root` (created 0755 if needed). */
export function provisionIpxeLoaders(root: string, ipxeDir: string, log: Logger): LoaderReport {
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const report: LoaderReport = { copied: [], present: [], missing: [] };
  for (const name of IPXE_LOADERS) {
    const dst = join(root, name);
    if (existsSync(dst)) {
      report.present.push(name);
      continue;
    }
    const src = join(ipxeDir, name);
    try {
      copyFileSync(src, dst, FS.COPYFILE_EXCL);
      chmodSync(dst, 0o644);
      report.copied.push(name);
    } catch (e) {
      report.missing.push(name);
      log.warn('boot loader not available (install the Debian ipxe package)', { loader: name, from: src, error: errorMessage(e) });
    }
  }
  if (report.copied.length) log.info('boot loaders copied into the TFTP root', { root, loaders: report.copied });
  return report;
}
