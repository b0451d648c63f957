/**
 * Binding a transfer's own UDP socket (RFC 1350 section 4: a new TID per
 * transfer) and running a ReadTransfer on it. Shared by the in-process path
 * (server.ts) and the transfer worker threads (worker.ts), so both run the
 * same state machine over the same socket handling.
 */
import type dgram from 'node:dgram';
import { ReadTransfer, type TransferOptions } from './transfer.js';

/**
 * Bind `sock` to an ephemeral port on `bind` and connect it to the client, so
 * the kernel drops datagrams from any other TID. Rejects on a socket error.
 */
export function bindTransferSocket(sock: dgram.Socket, bind: string, address: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ port: 0, address: bind }, () => {
      sock.connect(port, address, () => {
        sock.off('error', reject);
        resolve();
      });
    });
  });
}

/** Run a transfer on a bound, connected socket; the socket is closed when the transfer ends. */
export function runOnSocket(sock: dgram.Socket, o: Omit<TransferOptions, 'io'>): ReadTransfer {
  const transfer = new ReadTransfer({
    ...o,
    io: {
      // A full-length buffer skips dgram's offset/length validation and subarray per send.
      send: (buf, len) => (len === buf.length ? sock.send(buf) : sock.send(buf, 0, len)),
      close: () => closeQuietly(sock),
    },
  });
  sock.on('message', (m) => transfer.onPacket(m));
  // On a connected socket an ICMP port-unreachable surfaces as ECONNREFUSED: the client is gone.
  sock.on('error', (e) => transfer.abort(`socket error: ${e.message}`));
  transfer.start();
  return transfer;
}

/** Close a socket, ignoring "not running". */
export function closeQuietly(s: dgram.Socket | null): void {
  if (!s) return;
  try {
    s.close();
  } catch {
    /* already closed */
  }
}
