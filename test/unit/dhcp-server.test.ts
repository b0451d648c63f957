/** The DHCP server loop on loopback with a scripted policy (no namespaces needed). */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { MessageType, Opt } from '../../src/protocols/dhcp/constants.js';
import { optVal } from '../../src/protocols/dhcp/options.js';
import { decodeMessage, messageType } from '../../src/protocols/dhcp/packet.js';
import type { DhcpAnswer, DhcpRequest } from '../../src/protocols/dhcp/policy.js';
import { DhcpServer } from '../../src/protocols/dhcp/server.js';
import { requestPacket } from '../helpers/dhcp-packets.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup(answer: (r: DhcpRequest) => DhcpAnswer | null | Promise<DhcpAnswer | null>) {
  const client: Socket = createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  const got: Buffer[] = [];
  client.on('message', (b) => got.push(b));
  const log = memoryLogger();
  const seen: DhcpRequest[] = [];
  const server = new DhcpServer({
    bind: '127.0.0.1',
    port: 0,
    pxePort: null,
    clientPort: client.address().port,
    broadcast: '127.255.255.255',
    policy: { answer: (r) => (seen.push(r), answer(r)) },
    log,
    clock: new ManualClock(),
    perMacRate: { rate: 1, burst: 5, maxKeys: 4 },
  });
  await server.start();
  cleanup.push(() => server.stop(), () => void client.close());
  const port = server.ports()[0];
  const send = (b: Buffer) => new Promise<void>((r) => client.send(b, port, '127.0.0.1', () => r()));
  const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));
  return { server, client, got, log, seen, send, settle };
}

const ack = (_r: DhcpRequest): DhcpAnswer => ({ type: MessageType.ACK, yiaddr: '0.0.0.0', options: new Map([[Opt.SERVER_ID, optVal.ips('127.0.0.1')]]) });

describe('dhcp server loop', () => {
  it('answers INFORM by unicast to ciaddr with op, xid, chaddr, ciaddr and 53 set; padded to 300 bytes', async () => {
    const t = await setup(ack);
    await t.send(requestPacket({ type: MessageType.INFORM, mac: '52:54:00:00:00:01', ciaddr: '127.0.0.1', xid: 0xabcdef01 }));
    await t.settle();
    expect(t.got.length).toBe(1);
    expect(t.got[0].length).toBe(300);
    const m = decodeMessage(t.got[0]);
    expect(m.op).toBe(2);
    expect(m.xid).toBe(0xabcdef01);
    expect(m.ciaddr).toBe('127.0.0.1');
    expect(messageType(m)).toBe(MessageType.ACK);
    expect(m.chaddr.toString('hex')).toBe('525400000001');
  });

  it('drops malformed input, replies, BOOTREPLYs and policy failures without dying', async () => {
    let mode = 'throw';
    const t = await setup((r) => {
      if (mode === 'throw') throw new Error('boom');
      if (mode === 'reject') return Promise.reject(new Error('async boom'));
      return ack(r);
    });
    await t.send(Buffer.alloc(10));
    await t.send(Buffer.from('not a dhcp packet at all, but long enough?'.repeat(8)));
    const reply = requestPacket({ type: MessageType.INFORM, mac: '52:54:00:00:00:02', ciaddr: '127.0.0.1' });
    reply[0] = 2;
    await t.send(reply);
    await t.send(requestPacket({ type: MessageType.INFORM, mac: '52:54:00:00:00:03', ciaddr: '127.0.0.1' }));
    mode = 'reject';
    await t.send(requestPacket({ type: MessageType.INFORM, mac: '52:54:00:00:00:04', ciaddr: '127.0.0.1' }));
    await t.settle();
    expect(t.got).toEqual([]);
    expect(t.server.stats.malformed).toBe(2);
    expect(t.server.stats.ignored).toBe(1);
    expect(t.server.stats.policyErrors).toBe(2);
    mode = 'ok';
    await t.send(requestPacket({ type: MessageType.INFORM, mac: '52:54:00:00:00:05', ciaddr: '127.0.0.1' }));
    await t.settle();
    expect(t.got.length).toBe(1);
    expect(t.log.records.filter((r) => r.msg.includes('malformed')).length).toBe(2);
  });

  it('rate-limits one MAC and logs malformed floods at most 5 times per window', async () => {
    const t = await setup(ack);
    for (let i = 0; i < 20; i++) await t.send(requestPacket({ type: MessageType.INFORM, mac: '52:54:00:00:00:09', ciaddr: '127.0.0.1', xid: i }));
    for (let i = 0; i < 50; i++) await t.send(Buffer.alloc(100, i));
    await t.settle(300);
    expect(t.got.length).toBe(5); // burst
    expect(t.server.stats.rateLimited).toBe(15);
    expect(t.server.stats.malformed).toBe(50);
    expect(t.log.records.filter((r) => r.msg.includes('malformed')).length).toBe(5);
  });

  it('stays silent when the policy has no answer', async () => {
    const t = await setup(() => null);
    await t.send(requestPacket({ type: MessageType.DISCOVER, mac: '52:54:00:00:00:0a' }));
    await t.settle();
    expect(t.seen.length).toBe(1);
    expect(t.got).toEqual([]);
    expect(t.server.stats.silent).toBe(1);
  });
});
