/**
 * An octet read transfer on the native datagram path whose steady state runs
 * in C (native/udp.c, "window engine"): an in-order ACK in the data phase is
 * read, checked and answered with the next window's DATA by the addon without
 * entering JavaScript (docs/tftp.md "Native datagram path", docs/decisions.md).
 *
 * The engine applies the same rules as ReadTransfer (transfer.ts):
 *  - RFC 1350 section 2 / 6: lock-step DATA/ACK; the block shorter than
 *    blksize (possibly empty) is the last, and its ACK completes the transfer.
 *  - RFC 1123 section 4.2.3.1: a duplicate ACK never causes a send.
 *  - RFC 7440 section 4: up to W blocks in flight; an ACK for block n
 *    acknowledges every block up to n and sending continues from n + 1.
 *  - Block numbers roll over past 65535 (tftp-hpa, curl, atftp, iPXE).
 *
 * What stays here: the OACK phase (RFC 2347 section 3: OACK, then ACK 0
 * before DATA 1), the retransmission timer with its exponential backoff
 * (backoffDelay, RFC 2349 section 2), reading the file into chunks the
 * engine asks for (once per chunk), ERROR packets and odd datagrams (the
 * engine passes them up), socket errors, and the TransferResult. At most one
 * packet (OACK or DATA 1) is in flight before the first ACK.
 *
 * Retransmission: the engine stamps every (re)send with the wall clock
 * (CLOCK_REALTIME, Date.now's clock) and counts the ACKs that moved the
 * window; the timer reads both from the shared state, resets its tries when
 * the count moved, and on a timeout calls resend() (the whole window from
 * base). Because the engine's stamps are wall-clock times, this class uses
 * Date.now rather than an injected clock.
 */
import { ENGINE_EVENT, ENGINE_STATE } from './native-socket.js';
import { encode, OP } from './packet.js';
import { abortNotice, backoffDelay, clientErrorReason, READ_ERROR_PACKET, transferResult, type Transfer, type TransferOptions } from './transfer.js';

/** The addon's window engine on a connected transfer socket (NativeTransferSocket implements it). */
export interface WindowEngine {
  /** Configure the engine; returns the shared state (ENGINE_STATE slots). onEvent gets ENGINE_EVENT codes. */
  startEngine(blksize: number, windowsize: number, onEvent: (code: number) => void): Float64Array;
  /** The next `len` bytes of the file (a whole number of blocks unless `last`); the engine keeps `buf` until they are acknowledged. */
  feed(buf: Buffer, len: number, last: boolean): void;
  /** Start the data phase: send the first window. */
  go(): void;
  /** Resend the window from its base. */
  resend(): void;
  /** An ACK that reached JavaScript during the data phase; true when it completed the transfer. */
  ack(block: number): boolean;
  /** Send a packet built in JavaScript (OACK, ERROR). */
  send(buf: Buffer, len: number): void;
  /** Release the socket and the engine's chunks (idempotent). */
  close(): void;
}

/** Options of a NativeReadTransfer: a ReadTransfer's, with the engine instead of `io`. */
export interface NativeTransferOptions extends Omit<TransferOptions, 'io' | 'now'> {
  engine: WindowEngine;
}

/** Default chunk size handed to the engine (rounded up to whole blocks): as ReadTransfer, so memory per transfer stays about two chunks. */
export const ENGINE_CHUNK_BYTES = 256 * 1024;

type Phase = 'oack' | 'data' | 'done';

/** One octet read transfer whose ACK -> DATA step runs in the addon. */
export class NativeReadTransfer implements Transfer {
  private phase: Phase = 'data';
  private st: Float64Array = new Float64Array(ENGINE_STATE.COUNT);
  private readonly blksize: number;
  private readonly chunkBytes: number;
  private tries = 0;
  /** ENGINE_STATE.PROGRESS when the timer last looked. */
  private seenProgress = 0;
  private timer: NodeJS.Timeout | null = null;
  private oackPacket: Buffer | null = null;
  private oackSentAt = 0;
  private reading = false;
  private filePos = 0;
  /** Counted in JavaScript (the engine counts its own in the state). */
  private readonly stats = { retransmits: 0, duplicateAcks: 0, ignoredPackets: 0 };

  constructor(private readonly o: NativeTransferOptions) {
    this.blksize = o.negotiated.blksize;
    // The engine holds at most 8 chunks (MAX_CHUNKS in udp.c): a window must fit in fewer.
    const want = Math.max(o.chunkSize ?? ENGINE_CHUNK_BYTES, this.blksize, Math.ceil((this.blksize * o.negotiated.windowsize) / 4));
    this.chunkBytes = Math.ceil(want / this.blksize) * this.blksize;
  }

  start(): void {
    this.st = this.o.engine.startEngine(this.blksize, this.o.negotiated.windowsize, (code) => this.onEvent(code));
    this.fill();
    if (this.phase === 'done') return;
    if (this.o.negotiated.oack.length > 0) {
      // RFC 2347 section 3: OACK first; DATA 1 waits for ACK 0 (the first chunk is read meanwhile).
      this.phase = 'oack';
      this.oackPacket = encode({ op: OP.OACK, options: this.o.negotiated.oack });
      this.o.engine.send(this.oackPacket, this.oackPacket.length);
      this.oackSentAt = Date.now();
    } else {
      this.phase = 'data';
      this.o.engine.go();
    }
    this.schedule(this.delay());
  }

  get active(): boolean {
    return this.phase !== 'done';
  }

  onPacket(buf: Buffer): void {
    if (this.phase === 'done') return;
    if (buf.length >= 4 && buf[0] === 0 && buf[1] === OP.ACK) {
      const block = buf.readUInt16BE(2);
      if (this.phase === 'oack') {
        // RFC 2347 section 3: the client acknowledges the OACK with ACK 0.
        if (block !== 0) {
          this.stats.ignoredPackets++;
          return;
        }
        this.phase = 'data';
        this.tries = 0;
        this.o.engine.go();
        return;
      }
      // Data phase: only an ACK read in the same batch as the ACK 0 that started the engine gets here.
      if (this.o.engine.ack(block)) this.end(true, 'complete');
      else this.fill(); // the engine raises NEED only from its own reads; here it may just have released a chunk
      return;
    }
    const gaveUp = clientErrorReason(buf);
    if (gaveUp !== null) {
      this.end(false, gaveUp);
      return;
    }
    this.stats.ignoredPackets++;
  }

  abort(reason: string, notifyClient = false): void {
    if (this.phase === 'done') return;
    if (notifyClient) {
      const e = abortNotice(reason);
      this.o.engine.send(e, e.length);
    }
    this.end(false, `aborted: ${reason}`);
  }

  private onEvent(code: number): void {
    if (code === ENGINE_EVENT.COMPLETE) this.end(true, 'complete');
    else if (code === ENGINE_EVENT.NEED) this.fill();
  }

  /**
   * Read the next chunk when the engine wants one (one read at a time). A
   * generated file is one Buffer, fed whole. A chunk is the last when it
   * reaches the size fixed at open, or when the file shrank (a short read):
   * the transfer then ends early with a short block, as ReadTransfer's does.
   */
  private fill(): void {
    if (this.reading || this.phase === 'done' || this.st[ENGINE_STATE.WANT] !== 1) return;
    const { file } = this.o;
    if (file.data) {
      this.o.engine.feed(file.data, file.data.length, true);
      return;
    }
    const at = this.filePos;
    const want = Math.max(0, Math.min(this.chunkBytes, file.size - at));
    this.filePos += want;
    if (want === 0) {
      this.o.engine.feed(Buffer.alloc(0), 0, true);
      return;
    }
    this.reading = true;
    const buf = Buffer.allocUnsafeSlow(want);
    void readFully(file, buf, want, at).then(
      (got) => {
        this.reading = false;
        if (this.phase === 'done') return;
        this.o.engine.feed(buf, got, got < want || at + want >= file.size);
        this.fill();
      },
      (e: unknown) => {
        this.reading = false;
        if (this.phase === 'done') return;
        this.o.engine.send(READ_ERROR_PACKET, READ_ERROR_PACKET.length);
        this.end(false, `read error: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  }

  private delay(): number {
    return backoffDelay(this.o.negotiated, this.o.retry, this.tries);
  }

  private schedule(ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onTimer(), ms);
    this.timer.unref?.();
  }

  /**
   * The deadline is the last (re)send + delay(). ACKs moving the window reset
   * the tries (as ReadTransfer.onAck does), seen here through PROGRESS; the
   * timer never sleeps longer than the first timeout, so a reset of a long
   * backoff is noticed within one first timeout.
   */
  private onTimer(): void {
    this.timer = null;
    if (this.phase === 'done') return;
    let sentAt = this.oackSentAt;
    if (this.phase === 'data') {
      const p = this.st[ENGINE_STATE.PROGRESS];
      if (p !== this.seenProgress) {
        this.seenProgress = p;
        this.tries = 0;
      }
      sentAt = this.st[ENGINE_STATE.SENT_AT];
    }
    const left = sentAt + this.delay() - Date.now();
    if (left > 0) {
      this.schedule(Math.min(left, this.o.retry.timeoutMs));
      return;
    }
    this.tries++;
    if (this.tries > this.o.retry.retries) {
      this.end(false, 'timeout');
      return;
    }
    this.stats.retransmits++;
    if (this.phase === 'oack') {
      this.o.engine.send(this.oackPacket!, this.oackPacket!.length);
      this.oackSentAt = Date.now();
    } else {
      // Resend from the first unacknowledged block (the whole window, RFC 7440 section 4).
      this.o.engine.resend();
    }
    if (this.active) this.schedule(this.delay());
  }

  private end(ok: boolean, reason: string): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // The engine stops writing the state once closed; it holds the final counters.
    this.o.engine.close();
    void this.o.file.close().catch(() => {});
    const st = this.st;
    const final = st[ENGINE_STATE.FINAL] > 0 ? st[ENGINE_STATE.FINAL] : Number.POSITIVE_INFINITY;
    this.o.onEnd(
      transferResult(ok, reason, this.blksize, st[ENGINE_STATE.SENT_MAX], final, st[ENGINE_STATE.FINAL_LEN], {
        retransmits: this.stats.retransmits,
        duplicateAcks: this.stats.duplicateAcks + st[ENGINE_STATE.DUPLICATE_ACKS],
        ignoredPackets: this.stats.ignoredPackets + st[ENGINE_STATE.IGNORED],
      }),
    );
  }
}

/** Read `want` bytes at `at` into buf; fewer only when the file ended early. */
async function readFully(file: TransferOptions['file'], buf: Buffer, want: number, at: number): Promise<number> {
  let got = 0;
  while (got < want) {
    const n = await file.read(buf, got, want - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
