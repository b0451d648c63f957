/**
 * Choosing the datagram path of TFTP transfers (`services.tftp.datagram`):
 * the native addon when it loads (docs/tftp.md "Native datagram path"),
 * else node:dgram. The request socket on port 69 always uses node:dgram (one
 * datagram per transfer).
 */
import type { Logger } from '../../lib/logger.js';
import type { AddonLoad } from './native-socket.js';
import { dgramPath, nativePath, type DatagramPath } from './socket-transfer.js';

/** The setting: `auto` = native when the addon loads, else dgram; `native` = the addon or fail; `dgram` = node:dgram. */
export type DatagramSetting = 'auto' | 'native' | 'dgram';

/**
 * Resolve the setting to a datagram path and log (info) which one transfers
 * use. Throws when `native` was asked for and the addon does not load.
 */
export function chooseDatagramPath(setting: DatagramSetting, load: () => AddonLoad, log: Logger): DatagramPath {
  if (setting === 'dgram') {
    log.info('tftp: transfers use node:dgram (services.tftp.datagram: dgram)');
    return dgramPath();
  }
  const r = load();
  if ('addon' in r) {
    log.info('tftp: transfers use the native datagram path', { addon: r.addon.path, setting });
    return nativePath(r.addon);
  }
  if (setting === 'native') throw new Error(`services.tftp.datagram is "native" but the addon does not load (npm run build:native): ${r.error}`);
  log.info('tftp: transfers use node:dgram (native addon not available; npm run build:native)', { reason: r.error });
  return dgramPath();
}
