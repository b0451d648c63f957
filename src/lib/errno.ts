/**
 * Node-style errors for errno values reported by our native addons (the TFTP
 * datagram path and the HTTP sendfile path), so callers see the same `code`,
 * `errno` and `syscall` fields as from Node's own sockets.
 */
import { getSystemErrorName } from 'node:util';

/** An Error for a positive errno from `syscall`: code like `ECONNREFUSED`, errno negative as Node reports it. */
export function errnoError(errno: number, syscall: string): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `E${errno}`;
  }
  const e: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  e.code = code;
  e.errno = -errno;
  e.syscall = syscall;
  return e;
}
