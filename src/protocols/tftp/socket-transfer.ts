/**
 * Binding a transfer's own UDP socket (RFC 1350 section 4: a new TID per
 * transfer) and running a read transfer on it. Shared by the in-process path
 * (server.ts) and the transfer worker threads (worker.ts), so both run the
 * same state machine over the same socket handling. Two datagram paths sit
 * behind one interface: node:dgram, and the native addon (native-socket.ts).
 */
import dgram from 'node:dgram';
import { ReadTransfer, type Transfer, type TransferOptions } from './transfer.js';
import { NativeTransferSocket, type DatagramAddon } from './native-socket.js';
import { NativeReadTransfer } from './native-transfer.js';

/** A transfer's own socket: bound to an ephemeral port and connected to the client. */
export interface TransferSocket {
  /** Run a transfer on it. The socket is closed when the transfer ends; a socket error aborts it. */
  run(o: Omit<TransferOptions, 'io'>): Transfer;
  /** Close it (idempotent), e.g. when the server stops before a transfer ran. */
  close(): void;
  /** The bound port (the transfer's TID). */
  readonly localPort: number;
}

/** Opens a transfer socket on an ephemeral port of `bind`, connected to `address:port`. Rejects on a socket error. */
export type OpenTransferSocket = (bind: string, address: string, port: number) => Promise<TransferSocket>;

/** Which datagram machinery carries transfers. */
export type DatagramKind = 'native' | 'dgram';

/** A datagram path: its kind (handed to worker threads, which load their own) and its socket opener. */
export interface DatagramPath {
  kind: DatagramKind;
  open: OpenTransferSocket;
  /** The addon file (native only): worker threads load it themselves. */
  addonPath?: string;
}

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

/** Run a transfer on a bound, connected dgram socket; the socket is closed when the transfer ends. */
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

/** The node:dgram path: one dgram socket per transfer (`create` makes an unbound udp4 socket). */
export function dgramPath(create: () => dgram.Socket = () => dgram.createSocket({ type: 'udp4' })): DatagramPath {
  return {
    kind: 'dgram',
    open: async (bind, address, port) => {
      const sock = create();
      try {
        await bindTransferSocket(sock, bind, address, port);
      } catch (e) {
        closeQuietly(sock);
        throw e;
      }
      const localPort = sock.address().port;
      return { run: (o) => runOnSocket(sock, o), close: () => closeQuietly(sock), localPort };
    },
  };
}

/**
 * The native path (native-socket.ts): recvmmsg into a shared buffer, send(2)
 * without copies. Octet transfers run their steady state in the addon's
 * window engine (NativeReadTransfer); netascii transfers, whose blocks are
 * translated, run ReadTransfer over the same socket.
 */
export function nativePath(addon: DatagramAddon): DatagramPath {
  return {
    kind: 'native',
    addonPath: addon.path,
    open: (bind, address, port) => {
      // Until a transfer runs, datagrams are ignored (none arrive before our first send).
      let target: Transfer | null = null;
      let sock: NativeTransferSocket;
      try {
        sock = new NativeTransferSocket(addon, bind, address, port, {
          onPacket: (buf) => target?.onPacket(buf),
          // ECONNREFUSED (ICMP port unreachable): the client is gone, as on the dgram path.
          onError: (e) => target?.abort(`socket error: ${e.message}`),
        });
      } catch (e) {
        return Promise.reject(e as Error);
      }
      return Promise.resolve({
        run: (o) => {
          target = o.netascii
            ? new ReadTransfer({ ...o, io: { send: (buf, len) => sock.send(buf, len), close: () => sock.close() } })
            : new NativeReadTransfer({ ...o, engine: sock });
          target.start();
          return target;
        },
        close: () => sock.close(),
        localPort: sock.localPort,
      });
    },
  };
}
