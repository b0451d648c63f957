/**
 * One read transfer (server side): sends OACK/DATA, consumes ACKs and
 * retransmits on timeout. Protocol rules implemented here:
 *  - RFC 1350 section 2: lock-step DATA/ACK, a block shorter than blksize ends the transfer.
 *  - RFC 1123 section 4.2.3.1: no Sorcerer's Apprentice — a duplicate ACK never
 *    causes a send; only the retransmission timer resends.
 *  - RFC 2347 section 3: with options, send OACK and wait for ACK 0 before DATA 1.
 *  - RFC 7440 section 4: windowsize W — up to W unacknowledged blocks in
 *    flight; an ACK for block n acknowledges every block up to n and the
 *    sender continues from n + 1 (which retransmits a partially lost window).
 *  - Block numbers are 16 bits on the wire; transfers past block 65535 roll
 *    over to 0 (the convention of tftp-hpa, curl, atftp and iPXE).
 * At most one packet (OACK or DATA 1) is in flight before the first ACK.
 *
 * Per-ACK cost: the transfer keeps W + 1 block slots and builds the block
 * after the window right after sending (read-ahead), so an ACK only moves the
 * window, sends prebuilt slots and reads the clock; no allocation, no copy and
 * no timer work sit between the ACK's arrival and the next DATA.
 */
import { ERR, encode, OP, writeDataHeader } from './packet.js';
import type { Negotiated } from './options.js';
import { BlockReader } from './reader.js';
import type { SourceFile } from './source.js';

/** Where a transfer sends its packets (a UDP socket connected to the client). */
export interface TransferIo {
  /** Send `buf[0..len)` to the client. */
  send(buf: Buffer, len: number): void;
  /** Release the socket (idempotent). */
  close(): void;
}

/** Retransmission settings. */
export interface RetryPolicy {
  /** First retransmission timeout, ms (used when the client did not negotiate `timeout`). */
  timeoutMs: number;
  /** Upper bound for the exponential backoff, ms. */
  maxTimeoutMs: number;
  /** Retransmissions of the same packet before giving up. */
  retries: number;
}

/** How a transfer ended. */
export interface TransferResult {
  ok: boolean;
  /** Why it ended: 'complete', 'timeout', 'client error: ...', 'read error: ...', 'aborted: ...'. */
  reason: string;
  bytes: number;
  blocks: number;
  retransmits: number;
  duplicateAcks: number;
  ignoredPackets: number;
}

/** The result of a transfer that failed before it moved any data (`reason` says why). */
export function failedResult(reason: string): TransferResult {
  return { ok: false, reason, bytes: 0, blocks: 0, retransmits: 0, duplicateAcks: 0, ignoredPackets: 0 };
}

/**
 * RFC 1350 section 7 / RFC 2347 section 3 (ERROR 8 in answer to an OACK): the
 * reason a transfer ends when the client sends ERROR, or null when `buf` is
 * not an ERROR packet. At most 200 characters of the client's message.
 */
export function clientErrorReason(buf: Buffer): string | null {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== OP.ERROR) return null;
  const z = buf.indexOf(0, 4);
  const msg = buf.toString('latin1', 4, z < 0 ? buf.length : z).slice(0, 200);
  return `client error ${buf.readUInt16BE(2)}: ${msg}`;
}

/** The ERROR 0 (RFC 1350 section 5, "not defined") an aborted transfer sends its client. */
export function abortNotice(reason: string): Buffer {
  return encode({ op: OP.ERROR, code: ERR.NOT_DEFINED, message: reason });
}

/** Options of a transfer. */
export interface TransferOptions {
  file: SourceFile;
  netascii: boolean;
  negotiated: Negotiated;
  retry: RetryPolicy;
  io: TransferIo;
  /** Read-ahead chunk size in bytes. */
  chunkSize?: number;
  /** Called exactly once when the transfer ends. */
  onEnd: (r: TransferResult) => void;
  /** Millisecond clock for retransmission deadlines (default Date.now). */
  now?: () => number;
}

/** A running read transfer, as the server, the worker threads and the sockets see it. */
export interface Transfer {
  /** Send the first packet: OACK when options were accepted, else DATA 1. */
  start(): void;
  /** True until the transfer has ended. */
  readonly active: boolean;
  /** Handle a datagram from the client's TID. Never throws. */
  onPacket(buf: Buffer): void;
  /** Stop the transfer (server shutdown, socket error); `notifyClient` sends ERROR 0 first. */
  abort(reason: string, notifyClient?: boolean): void;
}

/**
 * Retransmission delay after `tries` timeouts: exponential backoff from the
 * configured first timeout. RFC 2349 section 2: a negotiated timeout is
 * echoed; we treat it as the upper bound of the backoff, never as a floor
 * (curl sends "timeout 5" derived from --max-time, and waiting 5 s per lost
 * packet would stall lossy links for no gain).
 */
export function backoffDelay(negotiated: Negotiated, retry: RetryPolicy, tries: number): number {
  const neg = negotiated.timeoutSec;
  const cap = neg !== null ? Math.min(neg * 1000, retry.maxTimeoutMs) : retry.maxTimeoutMs;
  return Math.min(cap, retry.timeoutMs * 2 ** tries);
}

/** The result of a read transfer from its block counters (bytes sent counts each block once). */
export function transferResult(
  ok: boolean,
  reason: string,
  blksize: number,
  sentMax: number,
  finalBlock: number,
  finalLen: number,
  stats: { retransmits: number; duplicateAcks: number; ignoredPackets: number },
): TransferResult {
  const bytes = sentMax >= finalBlock ? (finalBlock - 1) * blksize + finalLen : sentMax * blksize;
  return { ok, reason, blocks: sentMax, bytes, retransmits: stats.retransmits, duplicateAcks: stats.duplicateAcks, ignoredPackets: stats.ignoredPackets };
}

/** The ERROR packet a transfer sends before ending on a failed file read. */
export const READ_ERROR_PACKET = encode({ op: OP.ERROR, code: ERR.NOT_DEFINED, message: 'read error' });

type Phase = 'oack' | 'data' | 'done';

/**
 * State machine of one read transfer in TypeScript: the node:dgram path, and
 * netascii transfers on the native path (octet transfers on the native path
 * run their steady state in C: native-transfer.ts).
 */
export class ReadTransfer implements Transfer {
  private phase: Phase = 'data';
  private readonly blksize: number;
  private readonly window: number;
  /** W + 1 prebuilt DATA packets: the window plus the block read ahead. */
  private readonly slots: Buffer[];
  private readonly slotLen: number[];
  private readonly nslots: number;
  private readonly reader: BlockReader;
  /** Lowest unacknowledged block (absolute, 1-based). */
  private base = 1;
  /** Next block to send (absolute). */
  private next = 1;
  /** Highest block built into a slot so far. */
  private built = 0;
  /** Absolute number of the final (short) block once known. */
  private finalBlock = Number.POSITIVE_INFINITY;
  /** Payload length of the final block. */
  private finalLen = 0;
  /** Highest block sent so far (blocks are built ahead of sending). */
  private sentMax = 0;
  private building = false;
  private tries = 0;
  private timer: NodeJS.Timeout | null = null;
  /** When the packets now awaiting an ACK were (re)sent, ms. */
  private sentAt = 0;
  private timerDue = 0;
  private readonly now: () => number;
  private oackPacket: Buffer | null = null;
  private readonly stats = { retransmits: 0, duplicateAcks: 0, ignoredPackets: 0 };

  constructor(private readonly o: TransferOptions) {
    this.now = o.now ?? Date.now;
    this.blksize = o.negotiated.blksize;
    this.window = o.negotiated.windowsize;
    this.nslots = this.window + 1;
    this.slots = Array.from({ length: this.nslots }, () => Buffer.allocUnsafeSlow(4 + this.blksize));
    this.slotLen = new Array<number>(this.nslots).fill(0);
    const chunk = Math.max(o.chunkSize ?? 256 * 1024, this.blksize * Math.min(this.window, 16));
    this.reader = new BlockReader(o.file, chunk, o.netascii);
  }

  /** Send the first packet: OACK when options were accepted, else DATA 1. */
  start(): void {
    if (this.o.negotiated.oack.length > 0) {
      this.phase = 'oack';
      this.oackPacket = encode({ op: OP.OACK, options: this.o.negotiated.oack });
      this.o.io.send(this.oackPacket, this.oackPacket.length);
      this.arm();
      // DATA 1 waits for ACK 0 (RFC 2347 section 3), but it can be built now.
      this.readAhead();
    } else {
      this.phase = 'data';
      this.pump();
    }
  }

  /** True until the transfer has ended. */
  get active(): boolean {
    return this.phase !== 'done';
  }

  /** Handle a datagram from the client's TID. Never throws. */
  onPacket(buf: Buffer): void {
    if (this.phase === 'done') return;
    // Fast path for ACK (RFC 1350 figure 5-3): opcode 4 + block.
    if (buf.length >= 4 && buf[0] === 0 && buf[1] === OP.ACK) {
      this.onAck(buf.readUInt16BE(2));
      return;
    }
    const gaveUp = clientErrorReason(buf);
    if (gaveUp !== null) {
      this.end(false, gaveUp);
      return;
    }
    this.stats.ignoredPackets++;
  }

  /** Stop the transfer (server shutdown, socket error). */
  abort(reason: string, notifyClient = false): void {
    if (this.phase === 'done') return;
    if (notifyClient) {
      const e = abortNotice(reason);
      this.o.io.send(e, e.length);
    }
    this.end(false, `aborted: ${reason}`);
  }

  private onAck(block: number): void {
    if (this.phase === 'oack') {
      // RFC 2347 section 3: the client acknowledges the OACK with ACK 0.
      if (block !== 0) {
        this.stats.ignoredPackets++;
        return;
      }
      this.phase = 'data';
      this.tries = 0;
      this.pump();
      return;
    }
    // Map the 16-bit block number into [base-1, next-1] (the blocks sent so far).
    const last = this.base - 1;
    const d = (block - (last & 0xffff)) & 0xffff;
    if (d === 0) {
      // RFC 1123 section 4.2.3.1: a duplicate ACK must not trigger a resend.
      this.stats.duplicateAcks++;
      return;
    }
    const abs = last + d;
    if (abs >= this.next) {
      // An ACK for a block never sent (future or from a previous wrap): ignore.
      this.stats.ignoredPackets++;
      return;
    }
    this.base = abs + 1;
    this.tries = 0;
    if (abs >= this.finalBlock) {
      this.end(true, 'complete');
      return;
    }
    // RFC 7440 section 4: continue after the acknowledged block (resends the rest of a partially lost window).
    if (abs < this.next - 1) this.next = abs + 1;
    this.pump();
  }

  /** Send blocks while the window allows, then build the block after the window. */
  private pump(): void {
    if (this.building || this.phase !== 'data') return;
    for (;;) {
      this.sendBuilt();
      if (this.next >= this.base + this.window || this.next > this.finalBlock) break;
      // The window has room for block `next` = built + 1, which is not built yet.
      if (!this.buildSync()) {
        this.buildAsync(true);
        return;
      }
    }
    this.arm();
    this.readAhead();
  }

  /** Send the already built blocks from `next` on, while the window allows. */
  private sendBuilt(): void {
    const limit = this.base + this.window;
    while (this.next < limit && this.next <= this.built) {
      const i = this.next % this.nslots;
      this.o.io.send(this.slots[i], this.slotLen[i]);
      if (this.next > this.sentMax) this.sentMax = this.next;
      this.next++;
    }
  }

  /**
   * Build the next unbuilt block while its slot is free: slots hold blocks
   * base .. base + W, so one block beyond the window can be ready before the
   * ACK that opens room for it arrives. Never sends.
   */
  private readAhead(): void {
    if (this.building || this.phase === 'done') return;
    if (this.built >= this.finalBlock || this.built >= this.base + this.window) return;
    if (!this.buildSync()) this.buildAsync(false);
  }

  /** Wait for the reader's next chunk, then build one block (and pump, when the window waits for it). */
  private buildAsync(thenPump: boolean): void {
    this.building = true;
    void this.reader.take(this.slots[(this.built + 1) % this.nslots], 4, this.blksize).then(
      (n) => {
        this.building = false;
        if (this.phase === 'done') return;
        this.finishBuild(n);
        if (this.phase !== 'data') return;
        // An ACK that arrived while the chunk was read found `building` set and sent nothing.
        if (thenPump || (this.next <= this.built && this.next < this.base + this.window)) this.pump();
      },
      (e: unknown) => {
        this.building = false;
        const msg = e instanceof Error ? e.message : String(e);
        if (this.phase !== 'done') {
          this.o.io.send(READ_ERROR_PACKET, READ_ERROR_PACKET.length);
          this.end(false, `read error: ${msg}`);
        }
      },
    );
  }

  private finishBuild(n: number): void {
    const b = this.built + 1;
    const i = b % this.nslots;
    writeDataHeader(this.slots[i], b);
    this.slotLen[i] = 4 + n;
    this.built = b;
    if (n < this.blksize) {
      this.finalBlock = b;
      this.finalLen = n;
    }
  }

  private buildSync(): boolean {
    const n = this.reader.takeSync(this.slots[(this.built + 1) % this.nslots], 4, this.blksize);
    if (n < 0) return false;
    this.finishBuild(n);
    return true;
  }

  private delay(): number {
    return backoffDelay(this.o.negotiated, this.o.retry, this.tries);
  }

  /**
   * Note that packets were just (re)sent: the retransmission deadline is
   * `sentAt + delay()`. One timer per transfer, re-armed lazily when it fires
   * early, so the per-ACK cost is a clock read rather than timer list work.
   */
  private arm(): void {
    this.sentAt = this.now();
    const d = this.delay();
    if (this.timer !== null) {
      // A pending timer due no later than the new deadline re-arms itself when it fires.
      if (this.sentAt + d >= this.timerDue) return;
      clearTimeout(this.timer);
    }
    this.schedule(d);
  }

  private schedule(ms: number): void {
    this.timerDue = this.now() + ms;
    this.timer = setTimeout(() => this.onTimer(), ms);
    this.timer.unref?.();
  }

  private onTimer(): void {
    this.timer = null;
    if (this.phase === 'done') return;
    const left = this.sentAt + this.delay() - this.now();
    if (left > 0) {
      this.schedule(left);
      return;
    }
    this.onTimeout();
  }

  private onTimeout(): void {
    if (this.phase === 'done') return;
    this.tries++;
    if (this.tries > this.o.retry.retries) {
      this.end(false, 'timeout');
      return;
    }
    this.stats.retransmits++;
    if (this.phase === 'oack') {
      this.o.io.send(this.oackPacket!, this.oackPacket!.length);
      this.arm();
      return;
    }
    // Resend from the first unacknowledged block (the whole window, RFC 7440 section 4).
    this.next = this.base;
    if (this.building) {
      // A chunk read is in flight: resend what is built; its completion pumps the rest.
      this.sendBuilt();
      this.arm();
      return;
    }
    this.pump();
  }

  private end(ok: boolean, reason: string): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.o.io.close();
    void this.o.file.close().catch(() => {});
    this.o.onEnd(transferResult(ok, reason, this.blksize, this.sentMax, this.finalBlock, this.finalLen, this.stats));
  }
}
