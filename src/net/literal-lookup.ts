/**
 * A `lookup` for dgram sockets that only ever see IPv4 literals (reply
 * addresses taken from received datagrams, validated bind addresses): it
 * answers synchronously instead of going through dns.lookup, which defers
 * every send by one tick. Non-literals are rejected.
 */
import { isIP } from 'node:net';

/** dgram `lookup` option that resolves IP literals synchronously. */
export function literalLookup(
  hostname: string,
  _options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(hostname);
  if (family === 0) callback(Object.assign(new Error(`not an IP literal: ${hostname}`), { code: 'EINVAL' }), '', 0);
  else callback(null, hostname, family);
}
