/**
 * TypeScript side of the sendfile addon (native/sendfile.c, built by
 * scripts/build-native.sh into build/native/http_sendfile.node): send a byte
 * range of an open file to the connection of a Node HTTP response with
 * sendfile(2), zero copy, driven by the event loop (docs/tftp.md "HTTP").
 *
 * Node has no public sendfile; without the addon every byte is copied out of
 * the page cache into a Buffer and again into the socket (about 3x nginx's
 * CPU per byte). With it the kernel moves page-cache pages to the socket.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { errnoError } from '../lib/errno.js';
import { loadNativeExport } from '../lib/native-addon.js';

/** One running transfer (native/sendfile.c). */
interface NativeTransfer {
  /** Stop at once (no callback follows); returns the bytes sent so far. */
  abort(): number;
}

/** The addon's constructor: dups the socket and starts polling it, or throws an Error with an errno `code`. */
type TransferCtor = new (socketFd: number, fileFd: number, offset: number, length: number, onDone: (errno: number, sent: number) => void) => NativeTransfer;

/** A loaded addon. */
export interface SendfileAddon {
  Transfer: TransferCtor;
  /** Where it was loaded from (for the start-up log). */
  path: string;
}

/** Where scripts/build-native.sh puts the addon: <repo>/build/native (the same from src/ and dist/). */
export const DEFAULT_SENDFILE_ADDON_PATH = fileURLToPath(new URL('../../build/native/http_sendfile.node', import.meta.url));

/** Load the addon. Never throws: an error says why it is unusable. */
export function loadSendfileAddon(path: string = DEFAULT_SENDFILE_ADDON_PATH): { addon: SendfileAddon } | { error: string } {
  const r = loadNativeExport<TransferCtor>(path, 'Transfer');
  return 'error' in r ? r : { addon: { Transfer: r.value, path } };
}

/** The file descriptor of a plain TCP (or Unix) socket; null for TLS or anything without one. */
export function plainSocketFd(socket: Socket | null | undefined): number | null {
  if (!socket || socket.destroyed || (socket as { encrypted?: boolean }).encrypted) return null;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** Thrown by sendfileBody when the addon could not start (nothing of the body was sent; stream instead). */
export class SendfileUnavailable extends Error {}

/** An error that ended a sendfile transfer after it started; `sent` bytes of the body went out. */
export class SendfileError extends Error {
  constructor(
    message: string,
    readonly sent: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

const EMPTY = Buffer.alloc(0);

/** Resolves once `res` has a socket, or its request's connection closed (res.socket stays null then). */
function socketAssigned(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('socket', done);
      res.req.off('close', done);
      resolve();
    };
    res.once('socket', done);
    res.req.once('close', done);
  });
}

/**
 * Send the status line and headers `res` holds (writeHead already called),
 * wait until Node has handed them to the kernel, then send `length` bytes of
 * `fileFd` from `offset` with sendfile(2) and end the response (nothing more
 * goes on the wire: Content-Length is set, so the connection stays usable for
 * keep-alive). Resolves with the bytes sent.
 *
 * A pipelined request's response waits for its socket first. Throws
 * SendfileUnavailable when the transfer could not start (TLS or no socket
 * descriptor, dup or uv_poll_init failed): the headers are out but no body
 * byte, so the caller can stream. Throws SendfileError when the client went
 * away or the socket failed mid-body; the caller destroys the response.
 */
export async function sendfileBody(addon: SendfileAddon, res: ServerResponse, fileFd: number, offset: number, length: number): Promise<number> {
  // A pipelined request's response gets its socket once the responses before it are done.
  if (!res.socket && !res.destroyed) await socketAssigned(res);
  const socket = res.socket;
  if (!socket) throw new SendfileError('client closed the connection', 0, 'ECONNRESET');
  if (plainSocketFd(socket) === null) throw new SendfileUnavailable('not a plain socket');
  res.flushHeaders();
  // The header write completes before this empty write's callback (writes are ordered).
  await new Promise<void>((resolve, reject) => {
    socket.write(EMPTY, (err) => (err ? reject(new SendfileError(`header write: ${err.message}`, 0)) : resolve()));
  });
  const fd = plainSocketFd(socket);
  if (fd === null) throw new SendfileError('client closed the connection', 0);
  // libuv sees no writes while sendfile runs: an idle timeout must not cut the transfer.
  const timeout = (socket as { timeout?: number }).timeout;
  if (timeout) socket.setTimeout(0);
  try {
    const sent = await new Promise<number>((resolve, reject) => {
      let transfer: NativeTransfer | null = null;
      const onClose = () => {
        const n = transfer ? transfer.abort() : 0;
        reject(new SendfileError('client closed the connection', n, 'ECONNRESET'));
      };
      try {
        transfer = new addon.Transfer(fd, fileFd, offset, length, (errno, n) => {
          socket.off('close', onClose);
          if (errno === 0) resolve(n);
          else {
            const e = errnoError(errno, 'sendfile');
            reject(new SendfileError(e.message, n, e.code));
          }
        });
      } catch (e) {
        reject(new SendfileUnavailable((e as Error).message));
        return;
      }
      socket.once('close', onClose);
    });
    res.end();
    return sent;
  } finally {
    if (timeout && !socket.destroyed) socket.setTimeout(timeout);
  }
}
