/**
 * The DHCP server loop: UDP sockets on the DHCP port (67) and, for PXE, the
 * boot-server port (4011). It decodes and validates requests, asks the
 * policy, builds the reply (header fields and option echoes that RFC 2131
 * and RFC 3046 mandate) and sends it per RFC 2131 §4.1. It never decides
 * policy and never throws out of a socket handler: malformed packets are
 * logged (rate-limited) and dropped.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Clock } from '../../lib/clock.js';
import { literalLookup } from '../../net/literal-lookup.js';
import { CrowbarError, errorMessage } from '../../lib/errors.js';
import { LogThrottle, type Logger } from '../../lib/logger.js';
import { RateLimiter } from '../../lib/rate.js';
import { bindUdp } from '../../net/bind-udp.js';
import { BOOTREPLY, BOOTREQUEST, FLAG_BROADCAST, MESSAGE_TYPE_NAMES, MessageType, Opt } from './constants.js';
import { replyDestination } from './destination.js';
import { optVal } from './options.js';
import { chaddrString, decodeMessage, encodeMessage, messageType, type DhcpMessage } from './packet.js';
import type { DhcpAnswer, DhcpListener, DhcpPolicy, DhcpRequest } from './policy.js';

/** Settings of the loop. */
export interface DhcpServerOptions {
  /** Address to bind (0.0.0.0: Node cannot bind to one interface). */
  bind: string;
  /** DHCP server port (67); relays are answered on this port too. */
  port: number;
  /** PXE boot-server port (4011), or null for none. */
  pxePort: number | null;
  /** Port clients listen on (68). */
  clientPort: number;
  /** Broadcast address of the directly attached subnet (replies to clients without an address). */
  broadcast: string;
  policy: DhcpPolicy;
  log: Logger;
  clock: Clock;
  /** Per-MAC request rate (requests/s) and burst; the table is bounded. */
  perMacRate?: { rate: number; burst: number; maxKeys: number };
  /** Socket factory (tests may inject); default node:dgram udp4 with reuseAddr. */
  socketFactory?: () => Socket;
}

/** Counters for health and tests. */
export interface DhcpServerStats {
  received: number;
  malformed: number;
  ignored: number;
  rateLimited: number;
  answered: number;
  silent: number;
  sendErrors: number;
  policyErrors: number;
}

const ZERO = '0.0.0.0';

/**
 * Receive buffer asked for: absorbs a PXE boot storm or a scheduling gap of
 * the process (the kernel caps it at net.core.rmem_max, x2 for overhead).
 */
const RECV_BUFFER = 1 << 20;
/** How long a failed send to 255.255.255.255 sends broadcasts to the subnet broadcast instead. */
const LIMITED_BROADCAST_RETRY_MS = 60_000;

const VALID_TYPES = new Set<number>([MessageType.DISCOVER, MessageType.REQUEST, MessageType.DECLINE, MessageType.RELEASE, MessageType.INFORM]);

/** A running DHCP server. */
export class DhcpServer {
  private sockets: Array<{ sock: Socket; listener: DhcpListener }> = [];
  private readonly throttle = new LogThrottle(5, 10_000, 256);
  private readonly perMac: RateLimiter;
  /**
   * Until when 255.255.255.255 is known to be unroutable on this host: replies
   * go straight to the subnet broadcast instead of failing first every time;
   * probed again after LIMITED_BROADCAST_RETRY_MS so a route added later is used.
   */
  private limitedBroadcastDownUntil = 0;
  /** Counters since start. */
  readonly stats: DhcpServerStats = { received: 0, malformed: 0, ignored: 0, rateLimited: 0, answered: 0, silent: 0, sendErrors: 0, policyErrors: 0 };

  constructor(private readonly o: DhcpServerOptions) {
    const r = o.perMacRate ?? { rate: 20, burst: 60, maxKeys: 65_536 };
    this.perMac = new RateLimiter(r.rate, r.burst, r.maxKeys);
  }

  /** Bind the sockets (SO_BROADCAST on); rejects when a port cannot be bound. */
  async start(): Promise<void> {
    const ports: Array<[number, DhcpListener]> = [[this.o.port, 'dhcp']];
    if (this.o.pxePort !== null) ports.push([this.o.pxePort, 'pxe']);
    try {
      for (const [port, listener] of ports) {
        const sock = this.o.socketFactory ? this.o.socketFactory() : createSocket({ type: 'udp4', reuseAddr: true, lookup: literalLookup, recvBufferSize: RECV_BUFFER });
        await bindUdp(sock, { port, address: this.o.bind }).catch((e: Error) => {
          throw new CrowbarError('service.failed', `dhcp: cannot bind ${this.o.bind}:${port}: ${e.message}`);
        });
        sock.setBroadcast(true);
        sock.on('error', (e) => this.warn('socket', 'dhcp socket error', { error: e.message, port }));
        sock.on('message', (buf, rinfo) => this.onMessage(sock, listener, buf, { address: rinfo.address, port: rinfo.port }));
        this.sockets.push({ sock, listener });
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Close the sockets. */
  async stop(): Promise<void> {
    const socks = this.sockets;
    this.sockets = [];
    await Promise.all(socks.map(({ sock }) => new Promise<void>((res) => {
      try {
        sock.close(() => res());
      } catch {
        res();
      }
    })));
  }

  /** The bound ports (after start). */
  ports(): number[] {
    return this.sockets.map(({ sock }) => sock.address().port);
  }

  private warn(key: string, msg: string, fields: Record<string, unknown>): void {
    if (this.throttle.allow(key, this.o.clock.now())) this.o.log.warn(msg, fields);
  }

  /** Handle one datagram; never throws. */
  private onMessage(sock: Socket, listener: DhcpListener, buf: Buffer, from: { address: string; port: number }): void {
    this.stats.received++;
    let req: DhcpRequest;
    try {
      const msg = decodeMessage(buf);
      // RFC 2131 §4.1: a server only acts on BOOTREQUEST.
      if (msg.op !== BOOTREQUEST) {
        this.stats.ignored++;
        return;
      }
      const type = messageType(msg);
      if (type === null || !VALID_TYPES.has(type)) throw new CrowbarError('protocol.malformed', type === null ? 'no DHCP message type (option 53)' : `unexpected message type ${type}`);
      if (msg.hlen === 0) throw new CrowbarError('protocol.malformed', 'empty client hardware address');
      req = { msg, type, mac: chaddrString(msg), from, listener };
    } catch (e) {
      this.stats.malformed++;
      this.warn(`malformed:${from.address}`, 'dhcp: malformed packet dropped', { from: from.address, port: from.port, bytes: buf.length, error: errorMessage(e) });
      return;
    }
    if (!this.perMac.take(req.mac, this.o.clock.now())) {
      this.stats.rateLimited++;
      this.warn(`rate:${req.mac}`, 'dhcp: client over its request rate, dropped', { mac: req.mac });
      return;
    }
    let answer: DhcpAnswer | null | Promise<DhcpAnswer | null>;
    try {
      answer = this.o.policy.answer(req);
    } catch (e) {
      this.policyFailed(req, e);
      return;
    }
    if (answer instanceof Promise) {
      answer.then(
        (a) => this.reply(sock, req, a),
        (e) => this.policyFailed(req, e),
      );
    } else {
      this.reply(sock, req, answer);
    }
  }

  private policyFailed(req: DhcpRequest, e: unknown): void {
    this.stats.policyErrors++;
    this.warn('policy', 'dhcp: policy failed; request dropped', { mac: req.mac, type: MESSAGE_TYPE_NAMES[req.type], error: errorMessage(e) });
  }

  private reply(sock: Socket, req: DhcpRequest, a: DhcpAnswer | null): void {
    if (!a) {
      this.stats.silent++;
      return;
    }
    if (this.sockets.length === 0) return; // stopped while the policy was committing
    try {
      const m = req.msg;
      const dest = replyDestination({
        type: a.type,
        giaddr: m.giaddr,
        ciaddr: m.ciaddr,
        flags: m.flags,
        from: req.from,
        listener: req.listener,
        serverPort: this.o.port,
        clientPort: this.o.clientPort,
        broadcast: this.o.broadcast,
      });
      const options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, optVal.u8(a.type)]]);
      for (const [c, v] of a.options) if (c !== Opt.MESSAGE_TYPE) options.set(c, v);
      // RFC 3046 §2.2: echo the relay agent information option.
      const rai = m.options.get(Opt.RELAY_AGENT_INFO);
      if (rai && m.giaddr !== ZERO) options.set(Opt.RELAY_AGENT_INFO, rai);
      const nak = a.type === MessageType.NAK;
      const reply: DhcpMessage = {
        op: BOOTREPLY,
        htype: m.htype,
        hlen: m.hlen,
        hops: 0,
        xid: m.xid,
        secs: 0,
        // RFC 2131 §4.3.2: NAK through a relay sets the broadcast bit; otherwise copy the flags (Table 3).
        flags: dest.setBroadcastFlag ? m.flags | FLAG_BROADCAST : m.flags,
        // RFC 2131 Table 3: ciaddr is copied into ACKs (renew/inform), zero in OFFER and NAK.
        ciaddr: a.type === MessageType.ACK ? m.ciaddr : ZERO,
        yiaddr: nak ? ZERO : a.yiaddr,
        siaddr: nak ? ZERO : (a.siaddr ?? ZERO),
        giaddr: m.giaddr,
        chaddr: m.chaddr,
        sname: nak ? '' : (a.sname ?? ''),
        file: nak ? '' : (a.file ?? ''),
        options,
      };
      // RFC 2132 §9.10: honour the client's maximum message size (minus IP/UDP headers).
      const max = optVal.readU16(m.options.get(Opt.MAX_MESSAGE_SIZE));
      const buf = encodeMessage(reply, max === null ? 1500 - 28 : max - 28, m.options.get(Opt.PARAMETER_LIST));
      this.stats.answered++;
      const fail = (to: string, err: Error) => {
        this.stats.sendErrors++;
        this.warn(`send:${to}`, 'dhcp: send failed', { to, port: dest.port, error: err.message });
      };
      const sendFallback = () =>
        sock.send(buf, dest.port, dest.fallback!, (err2) => {
          if (err2) fail(dest.fallback!, err2);
        });
      if (dest.fallback && this.o.clock.now() < this.limitedBroadcastDownUntil) {
        sendFallback();
        return;
      }
      sock.send(buf, dest.port, dest.address, (err) => {
        if (!err) return;
        if (!dest.fallback) return fail(dest.address, err);
        this.limitedBroadcastDownUntil = this.o.clock.now() + LIMITED_BROADCAST_RETRY_MS;
        // No route for 255.255.255.255 on this host (no default route, or
        // no `broadcast 255.255.255.255 dev <admin if>` route: docs/dhcp.md).
        // The subnet's directed broadcast reaches iPXE and Linux clients.
        this.warn('send:limited-broadcast', 'dhcp: cannot send to 255.255.255.255; using the subnet broadcast (add a route for it: docs/dhcp.md)', {
          error: err.message,
          fallback: dest.fallback,
        });
        sendFallback();
      });
    } catch (e) {
      this.policyFailed(req, e);
    }
  }
}
