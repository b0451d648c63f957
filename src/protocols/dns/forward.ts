/**
 * Forwarding of queries outside our zones to configured upstream resolvers
 * (only for sources the server's policy allows). Each forwarded query goes
 * out from a fresh socket (kernel-chosen random source port) with a fresh
 * random ID (RFC 5452 §9.2), and an answer is accepted only when it comes
 * from the upstream address and port we sent to, carries our ID, has QR set
 * and repeats our question (RFC 5452 §3). Outstanding queries are bounded.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decodeMessage } from './codec.js';
import type { DnsQuestion } from './message.js';
import { canonicalName } from './names.js';

/** An upstream resolver. */
export interface Upstream {
  address: string;
  port: number;
}

/** Options of a Forwarder. */
export interface ForwarderOptions {
  upstreams: readonly Upstream[];
  /** Per-upstream wait, ms (default 1500). */
  timeoutMs?: number;
  /** Maximum queries in flight (default 256); beyond it `forward` returns null at once. */
  maxInFlight?: number;
}

function sameQuestion(a: DnsQuestion, b: DnsQuestion): boolean {
  return a.type === b.type && a.class === b.class && canonicalName(a.name) === canonicalName(b.name);
}

/** Sends queries upstream and returns validated answers. */
export class Forwarder {
  private inFlight = 0;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;

  constructor(private readonly o: ForwarderOptions) {
    this.timeoutMs = o.timeoutMs ?? 1500;
    this.maxInFlight = o.maxInFlight ?? 256;
  }

  /** True when at least one upstream is configured. */
  get enabled(): boolean {
    return this.o.upstreams.length > 0;
  }

  /**
   * Forward `query` (the client's raw message, already validated) whose
   * question is `question`; resolves with the upstream answer carrying the
   * client's ID, or null when no upstream answered acceptably.
   */
  async forward(query: Buffer, question: DnsQuestion): Promise<Buffer | null> {
    if (this.inFlight >= this.maxInFlight) return null;
    this.inFlight++;
    try {
      for (const up of this.o.upstreams) {
        const answer = await this.ask(up, query, question);
        if (answer) {
          answer[0] = query[0];
          answer[1] = query[1];
          return answer;
        }
      }
      return null;
    } finally {
      this.inFlight--;
    }
  }

  private ask(up: Upstream, query: Buffer, question: DnsQuestion): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const id = randomBytes(2).readUInt16BE(0);
      const out = Buffer.from(query);
      out.writeUInt16BE(id, 0);
      const sock = dgram.createSocket('udp4');
      let done = false;
      const finish = (v: Buffer | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.close();
        resolve(v);
      };
      const timer = setTimeout(() => finish(null), this.timeoutMs);
      sock.on('error', () => finish(null));
      sock.on('message', (msg, rinfo) => {
        if (rinfo.address !== up.address || rinfo.port !== up.port) return;
        if (msg.length < 12 || msg.readUInt16BE(0) !== id || (msg[2] & 0x80) === 0) return;
        try {
          const m = decodeMessage(msg);
          if (m.questions.length !== 1 || !sameQuestion(m.questions[0], question)) return;
        } catch {
          return; // a malformed answer is ignored; we keep waiting for a good one
        }
        finish(msg);
      });
      sock.bind(0, () => {
        if (!done) sock.send(out, up.port, up.address, (err) => err && finish(null));
      });
    });
  }
}
