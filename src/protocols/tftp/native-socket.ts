/**
 * TypeScript side of the native datagram addon (native/udp.c, built by
 * scripts/build-native.sh into build/native/tftp_udp.node). A
 * NativeTransferSocket is a transfer's own UDP socket (RFC 1350 section 4: a
 * new TID per transfer), bound to an ephemeral port and connected to the
 * client, so the kernel drops datagrams from any other TID.
 *
 * Why: node:dgram builds an address object and a 64 KiB Buffer per received
 * datagram (plus one more for the read that returns EAGAIN) and a request
 * object per send; at lock-step that machinery costs more than the protocol
 * (docs/tftp.md). Here one recvmmsg per readable event fills fixed slots of a
 * receive Buffer shared with the addon, and sends go out with send(2) straight
 * from the caller's Buffer. For octet read transfers the addon's window
 * engine also runs the steady state (ACK in, next window out) in C; see
 * native-transfer.ts.
 */
import { errnoError } from '../../lib/errno.js';
import { loadNativeExport } from '../../lib/native-addon.js';
import { fileURLToPath } from 'node:url';

/** The addon's socket handle (native/udp.c). */
interface NativeHandle {
  /** send(2) of buf[0..len); 0 when sent, else the errno. */
  send(buf: Buffer, len: number): number;
  /** Stop polling and close the descriptor (idempotent). */
  close(): void;
  /** The bound port, 0 once closed. */
  localPort(): number;
  /** Configure the window engine (native/udp.c): blksize, windowsize, the shared state, onEvent(EngineEvent). */
  engine(blksize: number, windowsize: number, state: Float64Array, onEvent: (code: number) => void): void;
  /** The next `len` bytes of the file (a whole number of blocks unless `last`); ECONNREFUSED or 0. */
  feed(buf: Buffer, len: number, last: boolean): number;
  /** Start the data phase: send the first window; ECONNREFUSED or 0. */
  go(): number;
  /** Resend the window from base; ECONNREFUSED or 0. */
  resend(): number;
  /** An ACK read by JavaScript in the data phase: -1 when it completed the transfer, else ECONNREFUSED or 0. */
  ack(block: number): number;
}

/** Slots of the window engine's shared Float64Array (enum in native/udp.c). */
export const ENGINE_STATE = {
  /** Wall-clock ms (Date.now's clock) of the last (re)send. */
  SENT_AT: 0,
  /** Lowest unacknowledged block (absolute). */
  BASE: 1,
  /** Next block to send. */
  NEXT: 2,
  /** Highest block sent. */
  SENT_MAX: 3,
  /** ACKs that moved the window (the retransmission timer resets its tries when this changes). */
  PROGRESS: 4,
  DUPLICATE_ACKS: 5,
  /** ACKs for blocks never sent. */
  IGNORED: 6,
  /** Final block, 0 while unknown. */
  FINAL: 7,
  FINAL_LEN: 8,
  /** DATA the kernel did not take (EAGAIN, ENOBUFS, EPERM). */
  DROPPED: 9,
  /** 1 while the engine wants another chunk (cleared by feed). */
  WANT: 10,
  /** Bytes fed so far. */
  FED: 11,
  COUNT: 12,
} as const;

/** onEvent codes of the window engine. */
export const ENGINE_EVENT = { COMPLETE: 1, NEED: 2 } as const;

/** The addon's constructor: binds, connects and starts polling, or throws an Error with an errno `code`. */
type NativeCtor = new (bind: string, peer: string, peerPort: number, recv: Buffer, lengths: Int32Array, onRead: (count: number) => void, onError: (errno: number) => void) => NativeHandle;

/** A loaded addon. */
export interface DatagramAddon {
  TransferSocket: NativeCtor;
  /** Where it was loaded from (for the start-up log). */
  path: string;
}

/** Where scripts/build-native.sh puts the addon: <repo>/build/native (the same from src/ and dist/). */
export const DEFAULT_ADDON_PATH = fileURLToPath(new URL('../../../build/native/tftp_udp.node', import.meta.url));

/** The outcome of loading the addon: the addon, or why it is unusable. */
export type AddonLoad = { addon: DatagramAddon } | { error: string };

/** Load the addon (once per thread; it is context-aware). Never throws: an error says why it is unusable. */
export function loadDatagramAddon(path: string = DEFAULT_ADDON_PATH): AddonLoad {
  const r = loadNativeExport<NativeCtor>(path, 'TransferSocket');
  return 'error' in r ? r : { addon: { TransferSocket: r.value, path } };
}

/**
 * Datagrams read per readable event (one recvmmsg). A client sends one ACK per
 * window, so more than one is queued only under delay; the rest are read on
 * the next event.
 */
export const RECV_SLOTS = 8;
/**
 * Bytes per receive slot (so about 4 KiB per transfer). Clients send ACKs (4
 * bytes) and ERRORs (4 bytes + message + NUL); a longer datagram is truncated
 * to the slot, which keeps the opcode and the first 515 bytes of an ERROR
 * (the transfer logs at most 200 characters of its message).
 */
export const RECV_SLOT_BYTES = 520;

/** Callbacks of a NativeTransferSocket. */
export interface NativeSocketHandlers {
  /**
   * A datagram from the connected peer. The Buffer is a view into the shared
   * receive area and is valid only during the call (ReadTransfer does not keep it).
   */
  onPacket(buf: Buffer): void;
  /** A socket error (ECONNREFUSED: the client's port is closed). Reported once, asynchronously for send errors. */
  onError(err: NodeJS.ErrnoException): void;
}

/** A transfer socket on the native datagram path. */
export class NativeTransferSocket {
  private readonly handle: NativeHandle;
  private readonly recv = Buffer.allocUnsafeSlow(RECV_SLOTS * RECV_SLOT_BYTES);
  /** Written by the addon: over an explicit ArrayBuffer, whose memory V8 never moves (small typed arrays may start on the heap). */
  private readonly lengths = new Int32Array(new ArrayBuffer(RECV_SLOTS * 4));
  /** One 4-byte view per slot: an ACK is delivered without creating a Buffer. */
  private readonly ackViews: Buffer[];
  private closed = false;
  private errored = false;
  /**
   * Sends the kernel did not take (EAGAIN/ENOBUFS: no buffer space; EPERM: a
   * packet filter dropped it); the retransmission timer covers them.
   */
  droppedSends = 0;

  /** Bind to an ephemeral port on `bind`, connect to `address:port` and start reading. Throws an errno Error. */
  constructor(addon: DatagramAddon, bind: string, address: string, port: number, private readonly handlers: NativeSocketHandlers) {
    this.ackViews = Array.from({ length: RECV_SLOTS }, (_, i) => this.recv.subarray(i * RECV_SLOT_BYTES, i * RECV_SLOT_BYTES + 4));
    this.handle = new addon.TransferSocket(
      bind,
      address,
      port,
      this.recv,
      this.lengths,
      (n) => this.onRead(n),
      (errno) => this.fail(errnoError(errno, 'recvmmsg')),
    );
  }

  /** The local port (the transfer's TID); 0 once closed. */
  get localPort(): number {
    return this.handle.localPort();
  }

  /**
   * Send `buf[0..len)` to the peer with send(2), no copy. ECONNREFUSED (an
   * ICMP port unreachable came back: the client is gone) is reported to
   * onError after this call returns. Every other failure (EAGAIN, ENOBUFS, an
   * nftables drop's EPERM, a route error) is counted as a dropped send: the
   * caller's retransmission timer resends, nothing spins. node:dgram, without
   * a send callback, ignores every send error.
   */
  send(buf: Buffer, len: number): void {
    if (this.closed) return;
    const r = this.handle.send(buf, len);
    if (r === 0) return;
    const e = errnoError(r, 'send');
    if (e.code !== 'ECONNREFUSED') {
      this.droppedSends++;
      return;
    }
    // The error surfaces asynchronously, never inside the caller's send loop.
    setImmediate(() => this.fail(e));
  }

  /**
   * Hand the steady state of an octet read transfer to the addon's window
   * engine (native/udp.c): from `go()` on, ACKs are handled in C and never
   * reach onPacket (unless read in the same batch as the ACK that called
   * `go()`: pass those to `ack`). Returns the shared state (ENGINE_STATE),
   * which the engine updates after every batch.
   */
  startEngine(blksize: number, windowsize: number, onEvent: (code: number) => void): Float64Array {
    // An explicit ArrayBuffer: its memory never moves (the addon keeps a pointer).
    const state = new Float64Array(new ArrayBuffer(ENGINE_STATE.COUNT * 8));
    this.handle.engine(blksize, windowsize, state, onEvent);
    return state;
  }

  /** Feed the next bytes of the file to the engine (see NativeHandle.feed); send errors as in send(). */
  feed(buf: Buffer, len: number, last: boolean): void {
    if (this.closed) return;
    // A small Buffer may live on the V8 heap, where it can move; reading .buffer moves it off the heap for good.
    void buf.buffer;
    this.sendResult(this.handle.feed(buf, len, last), 'sendmmsg');
  }

  /** Start the engine's data phase (sends the first window). */
  go(): void {
    if (!this.closed) this.sendResult(this.handle.go(), 'sendmmsg');
  }

  /** Resend the engine's window from its base (retransmission timeout). */
  resend(): void {
    if (!this.closed) this.sendResult(this.handle.resend(), 'sendmmsg');
  }

  /** An ACK read before the engine took over, in the same batch: true when it completed the transfer. */
  ack(block: number): boolean {
    if (this.closed) return false;
    const r = this.handle.ack(block);
    if (r < 0) return true;
    this.sendResult(r, 'sendmmsg');
    return false;
  }

  /** Only ECONNREFUSED comes back from the engine (other failures are counted in ENGINE_STATE.DROPPED). */
  private sendResult(r: number, syscall: string): void {
    if (r === 0) return;
    const e = errnoError(r, syscall);
    setImmediate(() => this.fail(e));
  }

  /** Close the socket (idempotent); nothing is delivered afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }

  private onRead(n: number): void {
    for (let i = 0; i < n && !this.closed; i++) {
      const len = this.lengths[i];
      // -1: the window engine consumed it (an ACK in the data phase).
      if (len < 0) continue;
      const off = i * RECV_SLOT_BYTES;
      this.handlers.onPacket(len === 4 ? this.ackViews[i] : this.recv.subarray(off, off + len));
    }
  }

  private fail(e: NodeJS.ErrnoException): void {
    if (this.closed || this.errored) return;
    this.errored = true;
    this.handlers.onError(e);
  }
}
