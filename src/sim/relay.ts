/**
 * A simulated DHCP relay agent (RFC 1542 / RFC 2131 §4.1): one UDP socket on
 * the rack's relay address (giaddr) and the server port, through which every
 * simulated machine of the rack sends its requests with giaddr set. The
 * server answers at giaddr; replies are handed to the machine waiting for
 * that transaction id. Machines never touch the socket themselves.
 */
import type { Socket } from 'node:dgram';
import { bindUdp } from '../net/bind-udp.js';
import { decodeMessage, encodeMessage, type DhcpMessage } from '../protocols/dhcp/packet.js';

/** Creates UDP sockets. */
export type RelaySocketFactory = () => Socket;

interface Waiter {
  accept: (m: DhcpMessage) => boolean;
  resolve: (m: DhcpMessage | null) => void;
  timer: NodeJS.Timeout;
}

/** One rack's relay. */
export class DhcpRelay {
  private sock: Socket | null = null;
  private readonly waiting = new Map<number, Waiter>();
  /** Replies that matched no waiting machine. */
  stray = 0;

  constructor(
    /** The relay's own address (giaddr). */
    readonly giaddr: string,
    private readonly server: { host: string; port: number },
    private readonly udp: RelaySocketFactory,
  ) {}

  /** Bind giaddr:<server port> (the server answers relays on its own port). */
  async start(): Promise<void> {
    const s = this.udp();
    s.on('error', () => {});
    s.on('message', (buf) => {
      let m: DhcpMessage;
      try {
        m = decodeMessage(buf);
      } catch {
        this.stray++;
        return;
      }
      const w = this.waiting.get(m.xid);
      if (!w || !w.accept(m)) {
        this.stray++;
        return;
      }
      clearTimeout(w.timer);
      this.waiting.delete(m.xid);
      w.resolve(m);
    });
    await bindUdp(s, { address: this.giaddr, port: this.server.port, exclusive: true });
    this.sock = s;
  }

  /**
   * Send `msg` (giaddr is filled in) and wait up to `timeoutMs` for a reply
   * with the same xid that `accept` takes; null on timeout. `drop` discards
   * the request before it leaves (packet-loss fault).
   */
  exchange(msg: DhcpMessage, accept: (m: DhcpMessage) => boolean, timeoutMs: number, drop = false): Promise<DhcpMessage | null> {
    const prev = this.waiting.get(msg.xid);
    if (prev) {
      clearTimeout(prev.timer);
      prev.resolve(null);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(msg.xid);
        resolve(null);
      }, timeoutMs);
      this.waiting.set(msg.xid, { accept, resolve, timer });
      if (!drop && this.sock) this.sock.send(encodeMessage({ ...msg, giaddr: this.giaddr, hops: 1 }), this.server.port, this.server.host);
    });
  }

  /** Close the socket; pending exchanges resolve null. */
  async stop(): Promise<void> {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.resolve(null);
    }
    this.waiting.clear();
    const s = this.sock;
    this.sock = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
