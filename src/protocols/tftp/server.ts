/**
 * TFTP read server (RFC 1350 + RFC 2347/2348/2349/7440). The well-known
 * socket only receives requests; every transfer gets its own socket on a
 * fresh port (RFC 1350 section 4: a new TID per transfer), connected to the
 * client so the kernel drops datagrams from other TIDs. The server asks a
 * FileSource for contents and never decides which paths are allowed.
 *
 * Requests are rate-limited per client address and the number of concurrent
 * transfers is bounded; an unanswered request costs at most one packet plus
 * `retries` retransmissions (design section 4: one packet before the first ACK).
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../lib/clock.js';
import { errorMessage, isCrowbarError } from '../../lib/errors.js';
import { LogThrottle, type Logger } from '../../lib/logger.js';
import { RateLimiter } from '../../lib/rate.js';
import { bindUdp } from '../../net/bind-udp.js';
import { decode, encode, ERR, OP, type RequestPacket } from './packet.js';
import { negotiate } from './options.js';
import type { RunningTransfer, TransferPool } from './pool.js';
import { closeQuietly, dgramPath, type DatagramPath, type TransferSocket } from './socket-transfer.js';
import type { FileSource, SourceFile } from './source.js';
import type { RetryPolicy, TransferResult } from './transfer.js';

/** Limits and tunables of the server. */
export interface TftpLimits extends RetryPolicy {
  /** Largest blksize granted (RFC 2348: up to 65464). */
  maxBlksize: number;
  /** Largest windowsize granted (RFC 7440). */
  maxWindowsize: number;
  /** Concurrent transfers; further requests get ERROR 0 "server busy". */
  maxTransfers: number;
  /** Requests per second per client address (token bucket), and its burst. */
  requestsPerSecond: number;
  requestBurst: number;
}

/** Default limits. */
export const DEFAULT_TFTP_LIMITS: TftpLimits = {
  maxBlksize: 65464,
  maxWindowsize: 64,
  maxTransfers: 1000,
  requestsPerSecond: 50,
  requestBurst: 100,
  timeoutMs: 1000,
  maxTimeoutMs: 8000,
  retries: 5,
};

/** Construction options. */
export interface TftpServerOptions {
  /** Address to bind (0.0.0.0 for all). */
  bind: string;
  /** Request port (69). */
  port: number;
  source: FileSource;
  log: Logger;
  clock: Clock;
  limits?: Partial<TftpLimits>;
  /** Request socket factory (tests may inject); default: a node:dgram udp4 socket. */
  createSocket?: () => dgram.Socket;
  /**
   * How transfer sockets are made (in process, and the kind handed to worker
   * threads): the native addon or node:dgram (datagram.ts). Default: node:dgram.
   */
  datagram?: DatagramPath;
  /**
   * Worker threads that run the transfers (started and stopped with the
   * server). Null or absent: every transfer runs on this thread. Policy
   * (decoding, rate limits, the FileSource) always stays on this thread.
   */
  pool?: TransferPool | null;
}

/** A completed transfer, reported to `onTransfer` listeners (metrics, tests). */
export interface TransferRecord extends TransferResult {
  path: string;
  client: string;
  blksize: number;
  windowsize: number;
  ms: number;
}

/** The TFTP read server. */
export class TftpServer {
  private socket: dgram.Socket | null = null;
  private readonly limits: TftpLimits;
  private readonly transfers = new Map<string, Slot>();
  private readonly rate: RateLimiter;
  /** Separate budget for ERROR answers to malformed datagrams, so junk cannot starve real requests. */
  private readonly errorRate: RateLimiter;
  private readonly throttle = new LogThrottle(10, 10_000);
  private readonly makeSocket: () => dgram.Socket;
  private readonly datagram: DatagramPath;
  private stopped = false;
  /** Optional listener for finished transfers. */
  onTransfer: ((r: TransferRecord) => void) | null = null;

  constructor(private readonly o: TftpServerOptions) {
    this.limits = { ...DEFAULT_TFTP_LIMITS, ...o.limits };
    this.rate = new RateLimiter(this.limits.requestsPerSecond, this.limits.requestBurst);
    this.errorRate = new RateLimiter(this.limits.requestsPerSecond, this.limits.requestBurst);
    this.makeSocket = o.createSocket ?? (() => dgram.createSocket({ type: 'udp4' }));
    this.datagram = o.datagram ?? dgramPath(this.makeSocket);
  }

  /** Start the worker pool (if any), then bind the request socket. Rejects when the port cannot be bound. */
  async start(): Promise<void> {
    if (this.o.pool) await this.o.pool.start();
    const s = this.makeSocket();
    try {
      await bindUdp(s, { port: this.o.port, address: this.o.bind, exclusive: true });
    } catch (e) {
      // A service that failed to start is not stopped by the runner: end the threads here.
      if (this.o.pool) await this.o.pool.stop();
      throw e;
    }
    s.on('error', (e) => this.warn('socket', 'tftp request socket error', { error: e.message }));
    s.on('message', (msg, rinfo) => {
      try {
        this.onRequest(msg, rinfo);
      } catch (e) {
        this.warn('handler', 'tftp request handler failed', { error: errorMessage(e) });
      }
    });
    this.socket = s;
    this.stopped = false;
  }

  /** The bound port (useful with port 0 in tests). */
  get port(): number {
    return (this.socket?.address() as AddressInfo | undefined)?.port ?? 0;
  }

  /** Number of transfers in progress (including requests being opened). */
  get activeTransfers(): number {
    return this.transfers.size;
  }

  /** Close the request socket, abort every transfer and stop the worker threads. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.transfers.values()) {
      t.transfer?.abort('server shutting down', true);
    }
    this.transfers.clear();
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    if (this.o.pool) await this.o.pool.stop();
  }

  private warn(key: string, msg: string, fields: Record<string, unknown>): void {
    if (this.throttle.allow(key, this.o.clock.now())) this.o.log.warn(msg, fields);
  }

  private replyError(rinfo: dgram.RemoteInfo, code: number, message: string): void {
    // Errors before a transfer exists are answered from the request socket;
    // an ERROR is never retransmitted (RFC 1350 section 7).
    this.socket?.send(encode({ op: OP.ERROR, code, message }), rinfo.port, rinfo.address);
  }

  /**
   * A worker died with this client's transfer running: its socket closed with
   * the thread. Send ERROR 0 from the same port (the transfer's TID, RFC 1350
   * section 4) so the client stops waiting instead of timing out. Best effort:
   * if the port is taken meanwhile, the client times out as before.
   */
  private tellOrphan(tid: number, rinfo: dgram.RemoteInfo): void {
    const s = this.makeSocket();
    const done = (): void => closeQuietly(s);
    s.once('error', (e) => {
      this.o.log.debug('tftp: could not tell the client of a dead worker', { client: rinfo.address, tid, error: e.message });
      done();
    });
    s.bind({ port: tid, address: this.o.bind, exclusive: true }, () => {
      s.send(encode({ op: OP.ERROR, code: ERR.NOT_DEFINED, message: 'transfer aborted: server worker died' }), rinfo.port, rinfo.address, done);
    });
  }

  private onRequest(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.stopped) return;
    const now = this.o.clock.now();
    const d = decode(msg);
    if (!d.ok) {
      this.warn(`bad:${rinfo.address}`, 'tftp: malformed datagram dropped', { client: rinfo.address, reason: d.reason, bytes: msg.length });
      // Answer malformed requests with an ERROR (rate-limited); junk shorter than an opcode gets nothing.
      if (d.code !== undefined && this.errorRate.take(rinfo.address, now)) this.replyError(rinfo, d.code, d.reason);
      return;
    }
    const p = d.packet;
    if (p.op !== OP.RRQ && p.op !== OP.WRQ) {
      // DATA/ACK/ERROR/OACK belong to a transfer port, never to the request port.
      this.warn(`stray:${rinfo.address}`, 'tftp: non-request packet on the request port', { client: rinfo.address, op: p.op });
      return;
    }
    if (!this.rate.take(rinfo.address, now)) {
      this.warn(`rate:${rinfo.address}`, 'tftp: request rate exceeded, dropping', { client: rinfo.address });
      return;
    }
    if (p.op === OP.WRQ) {
      this.o.log.info('tftp: write request refused', { client: rinfo.address, path: p.filename });
      this.replyError(rinfo, ERR.ACCESS_VIOLATION, 'write requests are not accepted');
      return;
    }
    // RFC 1350 section 5: modes netascii and octet ("mail" is obsolete); anything else is illegal.
    if (p.mode !== 'octet' && p.mode !== 'netascii') {
      this.replyError(rinfo, ERR.ILLEGAL_OPERATION, `unsupported mode ${JSON.stringify(p.mode.slice(0, 32))}`);
      return;
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    // A retransmitted RRQ from the same TID while its transfer runs: the transfer's own timer resends.
    if (this.transfers.has(key)) return;
    if (this.transfers.size >= this.limits.maxTransfers) {
      this.warn('busy', 'tftp: too many transfers, refusing', { client: rinfo.address, active: this.transfers.size });
      this.replyError(rinfo, ERR.NOT_DEFINED, 'server busy, try again later');
      return;
    }
    const slot: Slot = { transfer: null };
    this.transfers.set(key, slot);
    void this.begin(p, rinfo, key, slot).catch((e: unknown) => {
      if (this.transfers.get(key) === slot) this.transfers.delete(key);
      this.warn('begin', 'tftp: could not start transfer', { client: rinfo.address, path: p.filename, error: errorMessage(e) });
      this.replyError(rinfo, ERR.NOT_DEFINED, 'internal error');
    });
  }

  private async begin(p: RequestPacket, rinfo: dgram.RemoteInfo, key: string, slot: Slot): Promise<void> {
    const started = this.o.clock.now();
    let file;
    try {
      file = await this.o.source.open({ path: p.filename, remoteAddress: rinfo.address, protocol: 'tftp' });
    } catch (e) {
      this.transfers.delete(key);
      if (isCrowbarError(e, 'forbidden') || isCrowbarError(e, 'bad_request')) {
        this.o.log.info('tftp: request refused', { client: rinfo.address, path: p.filename.slice(0, 256), reason: errorMessage(e) });
        this.replyError(rinfo, ERR.ACCESS_VIOLATION, 'access violation');
        return;
      }
      throw e;
    }
    if (!file) {
      this.transfers.delete(key);
      this.o.log.info('tftp: file not found', { client: rinfo.address, path: p.filename.slice(0, 256) });
      this.replyError(rinfo, ERR.FILE_NOT_FOUND, 'file not found');
      return;
    }
    if (this.stopped || this.transfers.get(key) !== slot) {
      await file.close();
      return;
    }
    const netascii = p.mode === 'netascii';
    const neg = negotiate(p.options, netascii ? null : file.size, this.limits);
    if (neg.ignored.length) this.o.log.debug('tftp: options ignored', { client: rinfo.address, ignored: neg.ignored });
    const onEnd = (r: TransferResult): void => {
      if (this.transfers.get(key) === slot) this.transfers.delete(key);
      const rec: TransferRecord = { ...r, path: p.filename, client: key, blksize: neg.blksize, windowsize: neg.windowsize, ms: this.o.clock.now() - started };
      const fields = { path: p.filename.slice(0, 256), client: key, bytes: r.bytes, ms: rec.ms, blksize: neg.blksize, windowsize: neg.windowsize, retransmits: r.retransmits };
      if (r.ok) this.o.log.info('tftp: transfer complete', fields);
      else this.o.log.info('tftp: transfer failed', { ...fields, reason: r.reason });
      this.onTransfer?.(rec);
    };
    const pool = this.o.pool;
    if (pool && pool.available && (file.fd !== undefined || file.data !== undefined)) {
      const f: SourceFile = file;
      const handle = pool.run(
        { fd: f.data ? undefined : f.fd, data: f.data, size: f.size, netascii, negotiated: neg, retry: this.limits, bind: this.o.bind, address: rinfo.address, port: rinfo.port, datagram: this.datagram.kind, addonPath: this.datagram.addonPath },
        (r, sockStarted, tid) => {
          // The descriptor belongs to this thread; the worker is done with it.
          void f.close().catch(() => {});
          if (tid !== undefined && !this.stopped) this.tellOrphan(tid, rinfo);
          if (!sockStarted) {
            if (this.transfers.get(key) === slot) this.transfers.delete(key);
            this.warn('begin', 'tftp: could not start transfer', { client: rinfo.address, path: p.filename, error: r.reason });
            this.replyError(rinfo, ERR.NOT_DEFINED, 'internal error');
            return;
          }
          onEnd(r);
        },
      );
      if (handle) {
        slot.transfer = handle;
        return;
      }
    }
    let sock: TransferSocket;
    try {
      sock = await this.datagram.open(this.o.bind, rinfo.address, rinfo.port);
    } catch (e) {
      await file.close();
      throw e;
    }
    if (this.stopped || this.transfers.get(key) !== slot) {
      await file.close();
      sock.close();
      return;
    }
    slot.transfer = sock.run({ file, netascii, negotiated: neg, retry: this.limits, now: () => this.o.clock.now(), onEnd });
  }
}

/** A transfer slot: the running transfer once started (null while the file and socket are being opened). */
interface Slot {
  transfer: RunningTransfer | null;
}
