/**
 * The DNS server loop: UDP and TCP (RFC 1035 §4.2, RFC 7766 framing) on one
 * port. It decides nothing about data: it asks an `AuthoritySource` for the
 * current zone snapshot per query, forwards only when a forwarder is set and
 * the policy allows the source, and otherwise answers REFUSED for names
 * outside our zones (not an open resolver). Malformed packets get FORMERR
 * (header only, never larger than the query) or nothing when not even a
 * header is present; the loop never throws.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Clock } from '../../lib/clock.js';
import { literalLookup } from '../../net/literal-lookup.js';
import { bindUdp } from '../../net/bind-udp.js';
import { errorMessage } from '../../lib/errors.js';
import { LogThrottle, type Logger } from '../../lib/logger.js';
import type { RateLimiter } from '../../lib/rate.js';
import type { Authority } from './authority.js';
import { decodeMessage, encodeMessage, encodeFlags } from './codec.js';
import { parseFastQuery, patchResponse, type FastQuery } from './fastpath.js';
import type { Forwarder } from './forward.js';
import { CLASS_IN, Rcode, RRType, responseFlags, udpLimit, type DnsMessage } from './message.js';

/** Where the server gets the zones it is authoritative for (consulted per query). */
export interface AuthoritySource {
  /** The current snapshot; must be cheap (called for every query). */
  current(): Authority;
}

/** Options of a DnsServer. */
export interface DnsServerOptions {
  bind: string;
  port: number;
  source: AuthoritySource;
  /** Upstream forwarding for names outside our zones (policy: `mayForward`). */
  forwarder?: Forwarder;
  /** Whether a source address may use the forwarder (admin networks only). */
  mayForward?: (address: string) => boolean;
  /** Per-source-address limiter; over-limit queries are dropped. */
  limiter?: RateLimiter | null;
  clock: Clock;
  log: Logger;
  /** TCP idle timeout (RFC 7766 §6.2.3 recommends seconds), ms. */
  tcpIdleMs?: number;
  /** Maximum concurrent TCP connections. */
  maxTcpConnections?: number;
}

/** Counters exposed for health and tests. */
export interface DnsStats {
  udp: number;
  tcp: number;
  fast: number;
  refused: number;
  malformed: number;
  rateLimited: number;
  forwarded: number;
}

/** Authoritative DNS server over UDP and TCP. */
export class DnsServer {
  readonly stats: DnsStats = { udp: 0, tcp: 0, fast: 0, refused: 0, malformed: 0, rateLimited: 0, forwarded: 0 };
  private udp: dgram.Socket | null = null;
  private tcp: net.Server | null = null;
  private readonly conns = new Set<net.Socket>();
  private readonly throttle = new LogThrottle(5, 10_000);

  constructor(private readonly o: DnsServerOptions) {}

  /** UDP port actually bound (useful with port 0). */
  get port(): number {
    return this.udp?.address().port ?? 0;
  }

  private warn(kind: string, msg: string, fields: Record<string, unknown>): void {
    if (this.throttle.allow(kind, this.o.clock.now())) this.o.log.warn(msg, fields);
  }

  /**
   * Answer one message from `from`. Returns the response, null for silence,
   * or a promise when the query is forwarded. `udp` selects the size limit.
   */
  handle(buf: Buffer, from: string, udp: boolean): Buffer | null | Promise<Buffer | null> {
    const auth = this.o.source.current();
    const fq = parseFastQuery(buf);
    if (fq) {
      const c = auth.cached(fq.key);
      if (c) {
        const r = patchResponse(c, buf, fq, udp);
        if (r) {
          this.stats.fast++;
          return r;
        }
      }
    }
    return this.full(buf, from, udp, auth, fq);
  }

  private full(buf: Buffer, from: string, udp: boolean, auth: Authority, fq: FastQuery | null): Buffer | null | Promise<Buffer | null> {
    // Without a full header there is nothing to answer; responses are never answered (no loops).
    if (buf.length < 12 || (buf[2] & 0x80) !== 0) {
      this.stats.malformed++;
      return null;
    }
    let q: DnsMessage;
    try {
      q = decodeMessage(buf);
    } catch (e) {
      this.stats.malformed++;
      this.warn('malformed', 'dns: malformed query dropped with FORMERR', { from, error: errorMessage(e) });
      // RFC 1035 §4.1.1 FORMERR; header only, so never larger than the query.
      const out = Buffer.alloc(12);
      buf.copy(out, 0, 0, 2);
      out.writeUInt16BE(0x8000 | (buf[2] & 0x78) << 8 | (buf[2] & 0x01) << 8 | Rcode.FORMERR, 2);
      return out;
    }
    const reply = (rcode: number, withQuestion = true): Buffer => {
      const m: DnsMessage = {
        id: q.id,
        flags: responseFlags(q.flags, rcode & 0xf, false),
        questions: withQuestion ? q.questions : [],
        answers: [],
        authority: [],
        additional: [],
      };
      if (q.edns) m.edns = { udpSize: 1232, extRcode: rcode >> 4, version: 0, do: q.edns.do, options: Buffer.alloc(0) };
      return encodeMessage(m, udp ? udpLimit(q.edns) : 65535);
    };
    if (q.flags.opcode !== 0) return reply(Rcode.NOTIMP, false); // RFC 1035 §4.1.1
    if (q.questions.length !== 1) return reply(Rcode.FORMERR, false);
    if (q.edns && q.edns.version > 0) return reply(Rcode.BADVERS); // RFC 6891 §6.1.3
    const question = q.questions[0];
    if (question.class !== CLASS_IN && question.class !== 255) {
      this.stats.refused++;
      return reply(Rcode.REFUSED);
    }
    if (question.type === RRType.AXFR || question.type === 251) {
      this.stats.refused++;
      return reply(Rcode.REFUSED); // no zone transfers
    }
    const resp = auth.lookup(q);
    if (resp) {
      if (fq) {
        try {
          auth.remember(fq.key, q, resp);
        } catch (e) {
          this.warn('cache', 'dns: could not precompute a response', { error: errorMessage(e) });
        }
      }
      return encodeMessage(resp, udp ? udpLimit(q.edns) : 65535);
    }
    const fw = this.o.forwarder;
    if (fw?.enabled && q.flags.rd && this.o.mayForward?.(from)) {
      this.stats.forwarded++;
      return fw.forward(buf, question).then(
        (a) => {
          if (!a) return reply(Rcode.SERVFAIL);
          if (udp && a.length > udpLimit(q.edns)) {
            // Too large for this client: TC with the question only (RFC 2181 §9).
            const t = reply(Rcode.NOERROR);
            t.writeUInt16BE(encodeFlags({ ...responseFlags(q.flags, 0, false), ra: true, tc: true }), 2);
            return t;
          }
          return a;
        },
        () => reply(Rcode.SERVFAIL),
      );
    }
    this.stats.refused++;
    return reply(Rcode.REFUSED);
  }

  private allowed(from: string): boolean {
    const l = this.o.limiter;
    if (!l || l.take(from, this.o.clock.now())) return true;
    this.stats.rateLimited++;
    this.warn('rate', 'dns: source over its rate limit, dropping', { from });
    return false;
  }

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const sock = this.udp;
    if (!sock) return;
    try {
      this.stats.udp++;
      if (!this.allowed(rinfo.address)) return;
      const r = this.handle(msg, rinfo.address, true);
      if (r === null) return;
      if (r instanceof Promise)
        r.then(
          (b) => b && this.udp?.send(b, rinfo.port, rinfo.address),
          (e: unknown) => this.warn('forward', 'dns: forwarding failed', { error: errorMessage(e) }),
        );
      else sock.send(r, rinfo.port, rinfo.address);
    } catch (e) {
      this.warn('internal', 'dns: query handling failed', { from: rinfo.address, error: errorMessage(e) });
    }
  }

  private onTcp(conn: net.Socket): void {
    this.conns.add(conn);
    const from = conn.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    let pending: Buffer = Buffer.alloc(0);
    conn.setNoDelay(true);
    conn.setTimeout(this.o.tcpIdleMs ?? 10_000, () => conn.destroy());
    conn.on('error', () => conn.destroy());
    conn.on('close', () => this.conns.delete(conn));
    const write = (b: Buffer) => {
      if (conn.destroyed) return;
      const hdr = Buffer.allocUnsafe(2);
      hdr.writeUInt16BE(b.length, 0);
      conn.write(Buffer.concat([hdr, b]));
    };
    conn.on('data', (chunk: Buffer) => {
      try {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        // RFC 7766 §8: two-octet length prefix; several queries may be pipelined.
        while (pending.length >= 2) {
          const n = pending.readUInt16BE(0);
          if (pending.length < 2 + n) break;
          const m = Buffer.from(pending.subarray(2, 2 + n));
          pending = pending.subarray(2 + n);
          this.stats.tcp++;
          if (!this.allowed(from)) {
            conn.destroy();
            return;
          }
          const r = this.handle(m, from, false);
          if (r === null) {
            conn.destroy(); // not DNS: close rather than guess at framing
            return;
          }
          if (r instanceof Promise) r.then((b) => b && write(b), () => conn.destroy());
          else write(r);
        }
      } catch (e) {
        this.warn('internal', 'dns: tcp handling failed', { from, error: errorMessage(e) });
        conn.destroy();
      }
    });
  }

  /** Bind UDP and TCP; rejects when either cannot bind. */
  async start(): Promise<void> {
    const udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20, lookup: literalLookup });
    await bindUdp(udp, { port: this.o.port, address: this.o.bind });
    udp.on('error', (e) => this.warn('socket', 'dns: udp socket error', { error: errorMessage(e) }));
    udp.on('message', (m, r) => this.onUdp(m, r));
    this.udp = udp;
    const tcp = net.createServer((c) => this.onTcp(c));
    tcp.maxConnections = this.o.maxTcpConnections ?? 256;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ port: this.port, host: this.o.bind }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      udp.close();
      this.udp = null;
      throw e;
    }
    tcp.on('error', (e) => this.warn('socket', 'dns: tcp server error', { error: errorMessage(e) }));
    this.tcp = tcp;
  }

  /** Close sockets and connections. */
  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    const udp = this.udp;
    this.udp = null;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    const tcp = this.tcp;
    this.tcp = null;
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
  }
}
