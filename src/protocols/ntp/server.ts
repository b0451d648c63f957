/**
 * NTP server mode (RFC 5905 §8-9): answers client (mode 3) requests of at
 * least 48 octets with a 48-octet server (mode 4) reply of the same version.
 * The receive timestamp is taken first, when the datagram is handled; the
 * transmit timestamp last, just before sending; the origin timestamp is the
 * client's transmit timestamp copied byte for byte (RFC 5905 §8, "origin
 * timestamp" / interleaved-free basic mode). Leap, stratum, precision, root
 * delay/dispersion, reference ID and reference time come from the
 * `NtpTimeSource` policy. Every other mode (6/7 control and private in
 * particular, RFC 9327 / CVE-2013-5211) and every short packet is dropped
 * silently; replies are never longer than requests. Over-rate sources get a
 * rate-limited KoD RATE (RFC 5905 §7.4) or nothing.
 */
import dgram from 'node:dgram';
import type { Clock } from '../../lib/clock.js';
import { literalLookup } from '../../net/literal-lookup.js';
import { bindUdp } from '../../net/bind-udp.js';
import { errorMessage } from '../../lib/errors.js';
import { LogThrottle, type Logger } from '../../lib/logger.js';
import type { RateLimiter } from '../../lib/rate.js';
import { Leap, NTP_HEADER, NtpMode, toShort, writeNtpTimestamp } from './packet.js';

/** What the server says about its own clock (RFC 5905 §7.3 system variables). */
export interface NtpStatus {
  leap: number;
  stratum: number;
  /** log2 seconds. */
  precision: number;
  /** Seconds. */
  rootDelay: number;
  /** Seconds. */
  rootDispersion: number;
  /** Exactly 4 octets. */
  refId: Buffer;
  /** When the clock was last set or corrected, Unix ns. */
  referenceNs: bigint;
}

/** The policy the server consults for its system variables. */
export interface NtpTimeSource {
  status(): NtpStatus;
}

/** Options of an NtpServer. */
export interface NtpServerOptions {
  bind: string;
  port: number;
  source: NtpTimeSource;
  clock: Clock;
  log: Logger;
  /** Per-source request limiter; null: no limit. */
  limiter?: RateLimiter | null;
  /** Per-source limiter for KoD replies themselves (default: 1 per 2 s, burst 1). */
  kodLimiter?: RateLimiter | null;
}

/** Counters for health and tests. */
export interface NtpStats {
  received: number;
  answered: number;
  dropped: number;
  kod: number;
}

const RATE = Buffer.from('RATE', 'ascii');

/**
 * Build the reply to `req` (already checked: >= 48 octets, mode 3) with
 * receive time `rxNs`; `nowNs` is read last, for the transmit timestamp.
 */
export function buildReply(req: Buffer, rxNs: bigint, st: NtpStatus, nowNs: () => bigint, kod = false): Buffer {
  const b = Buffer.allocUnsafe(NTP_HEADER);
  const version = (req[0] >> 3) & 7;
  // RFC 5905 §7.4: a kiss-o'-death packet has leap 3, stratum 0 and the kiss code as reference ID.
  const leap = kod ? Leap.UNSYNC : st.leap;
  b[0] = ((leap & 3) << 6) | (version << 3) | NtpMode.SERVER;
  b[1] = kod ? 0 : st.stratum;
  b[2] = req[2]; // poll: echo the client's (RFC 5905 §9.2, peer.ppoll)
  b.writeInt8(st.precision, 3);
  b.writeUInt32BE(toShort(st.rootDelay), 4);
  b.writeUInt32BE(toShort(st.rootDispersion), 8);
  (kod ? RATE : st.refId).copy(b, 12, 0, 4);
  if (st.referenceNs > 0n) writeNtpTimestamp(b, 16, st.referenceNs);
  else b.fill(0, 16, 24);
  req.copy(b, 24, 40, 48); // origin = client's transmit, byte for byte
  writeNtpTimestamp(b, 32, rxNs);
  writeNtpTimestamp(b, 40, nowNs()); // transmit: last
  return b;
}

/** The NTP server loop over one UDP socket. */
export class NtpServer {
  readonly stats: NtpStats = { received: 0, answered: 0, dropped: 0, kod: 0 };
  private sock: dgram.Socket | null = null;
  private readonly throttle = new LogThrottle(5, 10_000);

  constructor(private readonly o: NtpServerOptions) {}

  /** Bound port (useful with port 0). */
  get port(): number {
    return this.sock?.address().port ?? 0;
  }

  private drop(reason: string, from: string): null {
    this.stats.dropped++;
    if (this.throttle.allow(reason, this.o.clock.now())) this.o.log.debug('ntp: request dropped', { reason, from });
    return null;
  }

  /** Answer one datagram received at `rxNs`; null for silence. */
  handle(msg: Buffer, from: string, rxNs: bigint): Buffer | null {
    this.stats.received++;
    if (msg.length < NTP_HEADER) return this.drop('short', from);
    const mode = msg[0] & 7;
    const version = (msg[0] >> 3) & 7;
    // Only client requests; never modes 6/7 (control/private: amplification vectors).
    if (mode !== NtpMode.CLIENT) return this.drop(`mode ${mode}`, from);
    if (version < 1 || version > 4) return this.drop(`version ${version}`, from);
    const now = this.o.clock.now();
    if (this.o.limiter && !this.o.limiter.take(from, now)) {
      if (this.o.kodLimiter && !this.o.kodLimiter.take(from, now)) return this.drop('rate', from);
      this.stats.kod++;
      return buildReply(msg, rxNs, this.o.source.status(), () => this.o.clock.nowNs(), true);
    }
    this.stats.answered++;
    return buildReply(msg, rxNs, this.o.source.status(), () => this.o.clock.nowNs());
  }

  /** Bind the socket; rejects when it cannot. */
  async start(): Promise<void> {
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20, lookup: literalLookup });
    await bindUdp(sock, { port: this.o.port, address: this.o.bind });
    sock.on('error', (e) => {
      if (this.throttle.allow('socket', this.o.clock.now())) this.o.log.warn('ntp: socket error', { error: errorMessage(e) });
    });
    sock.on('message', (msg, rinfo) => {
      const rx = this.o.clock.nowNs(); // receive timestamp first
      try {
        const r = this.handle(msg, rinfo.address, rx);
        if (r) sock.send(r, rinfo.port, rinfo.address);
      } catch (e) {
        if (this.throttle.allow('internal', this.o.clock.now())) this.o.log.warn('ntp: request handling failed', { error: errorMessage(e) });
      }
    });
    this.sock = sock;
  }

  /** Close the socket. */
  async stop(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
