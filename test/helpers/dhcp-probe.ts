/**
 * A scriptable DHCP peer for integration tests, run inside a namespace:
 *   ip netns exec NS node --import tsx test/helpers/dhcp-probe.ts '<json>'
 * It binds a UDP port (68 as a client, 67 as a relay), sends the listed
 * packets (built requests or raw hex) to a target, collects every datagram
 * that arrives within `waitMs` (or until `expect` replies), and prints them
 * as JSON on stdout. Steps run in order; a step may take the yiaddr of the
 * previous reply as its requested address (`requested: "$yiaddr"`).
 */
import { createSocket } from 'node:dgram';
import { decodeMessage, messageType } from '../../src/protocols/dhcp/packet.js';
import { requestPacket, type ReqSpec } from './dhcp-packets.js';

/** One step of a probe. */
export interface ProbeStep {
  to: { address: string; port: number };
  /** Raw payload (hex) or a request to build. */
  hex?: string;
  req?: Omit<ReqSpec, 'extra' | 'requested'> & { requested?: string; extra?: Array<[number, string]> };
  waitMs: number;
  expect?: number;
}

/** The probe's input. */
export interface ProbeSpec {
  bind: { address: string; port: number };
  steps: ProbeStep[];
}

/** One datagram seen by the probe. */
export interface ProbeReply {
  step: number;
  from: string;
  fromPort: number;
  bytes: number;
  type: number | null;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  ciaddr?: string;
  flags?: number;
  file?: string;
  options?: Record<string, string>;
  error?: string;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ProbeSpec;
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((res) => sock.bind(spec.bind.port, spec.bind.address, () => res()));
  sock.setBroadcast(true);
  const replies: ProbeReply[] = [];
  let step = 0;
  let wake: (() => void) | null = null;
  sock.on('message', (buf, r) => {
    const rep: ProbeReply = { step, from: r.address, fromPort: r.port, bytes: buf.length, type: null };
    try {
      const m = decodeMessage(buf);
      rep.type = messageType(m);
      rep.yiaddr = m.yiaddr;
      rep.siaddr = m.siaddr;
      rep.giaddr = m.giaddr;
      rep.ciaddr = m.ciaddr;
      rep.flags = m.flags;
      rep.file = m.file;
      rep.options = Object.fromEntries([...m.options].map(([c, v]) => [String(c), v.toString('hex')]));
    } catch (e) {
      rep.error = (e as Error).message;
    }
    replies.push(rep);
    wake?.();
  });
  let lastYiaddr = '0.0.0.0';
  for (const st of spec.steps) {
    let buf: Buffer;
    if (st.hex !== undefined) buf = Buffer.from(st.hex, 'hex');
    else {
      const r = st.req!;
      buf = requestPacket({
        ...r,
        requested: r.requested === '$yiaddr' ? lastYiaddr : r.requested,
        extra: (r.extra ?? []).map(([c, h]) => [c, Buffer.from(h, 'hex')] as [number, Buffer]),
      });
    }
    const before = replies.length;
    await new Promise<void>((res) => sock.send(buf, st.to.port, st.to.address, () => res()));
    const deadline = Date.now() + st.waitMs;
    while (Date.now() < deadline && (st.expect === undefined || replies.length - before < st.expect)) {
      await new Promise<void>((res) => {
        wake = res;
        setTimeout(res, Math.max(1, deadline - Date.now()));
      });
    }
    const got = replies.slice(before).find((x) => x.yiaddr && x.yiaddr !== '0.0.0.0');
    if (got?.yiaddr) lastYiaddr = got.yiaddr;
    step++;
  }
  sock.close();
  process.stdout.write(JSON.stringify(replies) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e) + '\n');
  process.exit(1);
});
