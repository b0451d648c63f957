/**
 * Sustained DORA load as a relay agent (like perfdhcp), for the crash test:
 *   ip netns exec NS node --import tsx test/helpers/dhcp-load.ts SERVER GIADDR [WINDOW]
 * Binds 0.0.0.0:67, keeps WINDOW exchanges in flight, each with a fresh
 * random MAC; prints one line "ACK <mac> <address>" per ACK the moment it
 * arrives (the client-side record of acknowledged leases). Exchanges that
 * get no answer within 500 ms are abandoned and replaced (the server may be
 * dead). Runs until SIGTERM.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { MessageType, Opt } from '../../src/protocols/dhcp/constants.js';
import { optVal } from '../../src/protocols/dhcp/options.js';
import { chaddrString, decodeMessage, messageType } from '../../src/protocols/dhcp/packet.js';
import { requestPacket } from './dhcp-packets.js';

const [server, giaddr, windowArg] = process.argv.slice(2);
const WINDOW = Number(windowArg ?? 32);
interface Ex {
  mac: string;
  xid: number;
  sent: number;
}
const inflight = new Map<number, Ex>();
const sock = createSocket({ type: 'udp4', reuseAddr: true });
let out = '';
const flush = () => {
  if (out) {
    process.stdout.write(out);
    out = '';
  }
};

function start(): void {
  const mac = '02:' + [...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  const xid = randomBytes(4).readUInt32BE(0);
  inflight.set(xid, { mac, xid, sent: Date.now() });
  sock.send(requestPacket({ type: MessageType.DISCOVER, mac, xid, giaddr }), 67, server);
}

sock.on('message', (buf) => {
  try {
    const m = decodeMessage(buf);
    const ex = inflight.get(m.xid);
    if (!ex || chaddrString(m) !== ex.mac) return;
    const t = messageType(m);
    if (t === MessageType.OFFER) {
      ex.sent = Date.now();
      sock.send(requestPacket({ type: MessageType.REQUEST, mac: ex.mac, xid: ex.xid, giaddr, requested: m.yiaddr, serverId: optVal.readIp(m.options.get(Opt.SERVER_ID)) ?? server }), 67, server);
    } else if (t === MessageType.ACK) {
      out += `ACK ${ex.mac} ${m.yiaddr}\n`;
      inflight.delete(m.xid);
      start();
    } else {
      inflight.delete(m.xid);
      start();
    }
  } catch {
    /* ignore */
  }
});

sock.bind(67, '0.0.0.0', () => {
  for (let i = 0; i < WINDOW; i++) start();
  setInterval(() => {
    flush();
    const now = Date.now();
    for (const [x, ex] of inflight) if (now - ex.sent > 500) {
      inflight.delete(x);
      start();
    }
  }, 20);
});
process.on('SIGTERM', () => {
  flush();
  process.exit(0);
});
