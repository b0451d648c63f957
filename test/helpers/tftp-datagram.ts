/**
 * The TFTP transfer datagram paths the tests run against: the native addon
 * (build/native/tftp_udp.node, built by scripts/setup.sh) and node:dgram.
 * CROWBAR_TFTP_DATAGRAM=native|dgram restricts a run to one of them. A missing
 * addon is a failure, not a skip: setup builds it.
 */
import { loadDatagramAddon, type DatagramAddon } from '../../src/protocols/tftp/native-socket.js';
import { dgramPath, nativePath, type DatagramKind, type DatagramPath } from '../../src/protocols/tftp/socket-transfer.js';

/** The kinds selected for this run. */
export function datagramKinds(): DatagramKind[] {
  const only = process.env.CROWBAR_TFTP_DATAGRAM;
  if (only === 'native' || only === 'dgram') return [only];
  return ['native', 'dgram'];
}

/** The addon, or an Error that says how to build it. */
export function requireAddon(): DatagramAddon {
  const r = loadDatagramAddon();
  if ('error' in r) throw new Error(`native TFTP addon not loadable (run npm run build:native): ${r.error}`);
  return r.addon;
}

/** A datagram path by kind. */
export function datagramPath(kind: DatagramKind): DatagramPath {
  return kind === 'native' ? nativePath(requireAddon()) : dgramPath();
}
