/**
 * Bind a UDP socket and wait for it: resolves once bound, rejects with the
 * socket's error (EADDRINUSE, EACCES, ...) when it cannot bind. The one-shot
 * error listener is removed on success, so the caller installs its own.
 */
import type { BindOptions, Socket } from 'node:dgram';

/** Bind `sock` as `opts` says; resolves when bound, rejects with the bind error. */
export function bindUdp(sock: Socket, opts: BindOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(opts, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}
