/**
 * The OS install source of the boot scripts: picks the node's medium and
 * dispatches on its method (`installer`: src/services/installer.ts;
 * `image`: the image-install path). A node whose OS cannot be booted gets
 * the boot scripts' `wait` script, and the reason is logged.
 */
import { errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Node } from '../model/node.js';
import type { OsMedia, OsMethod } from '../model/os.js';
import type { OsInstall, OsInstallSource } from './boot-scripts.js';
import type { OsSelection } from './os-selection.js';

/** Boots one method's media. */
export type MethodBoot = (node: Node, media: OsMedia) => OsInstall;

/** Build the dispatching source from per-method boots. */
export function osInstallDispatcher(sel: OsSelection, boots: Partial<Record<OsMethod, MethodBoot>>, log: Logger): OsInstallSource {
  return (node) => {
    try {
      const media = sel.mediaFor(node);
      const boot = boots[media.method];
      if (!boot) {
        log.warn('no boot for this OS install method', { node: node.name, os: media.name, method: media.method });
        return null;
      }
      return boot(node, media);
    } catch (e) {
      log.warn('cannot boot the OS install', { node: node.name, error: errorMessage(e) });
      return null;
    }
  };
}
