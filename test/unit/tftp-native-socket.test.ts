/**
 * The native datagram addon's wrapper (NativeTransferSocket) on loopback:
 * only the connected peer's datagrams are delivered, ACKs and longer
 * datagrams arrive intact, close is idempotent and safe with a datagram
 * pending, ICMP port unreachable surfaces as ECONNREFUSED, and open/close
 * cycles leak no descriptors.
 */
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeTransferSocket, RECV_SLOT_BYTES, RECV_SLOTS } from '../../src/protocols/tftp/native-socket.js';
import { requireAddon } from '../helpers/tftp-datagram.js';

const HOST = '127.0.0.1';
const addon = requireAddon();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const open: Array<{ close(): void }> = [];

async function peer(): Promise<{ sock: dgram.Socket; port: number; got: Buffer[] }> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  open.push(sock);
  return { sock, port: sock.address().port, got };
}

function nativeTo(port: number, errors: NodeJS.ErrnoException[] = []): { s: NativeTransferSocket; got: Buffer[] } {
  const got: Buffer[] = [];
  // Copy: the delivered Buffer is a view into the shared receive area.
  const s = new NativeTransferSocket(addon, HOST, HOST, port, { onPacket: (b) => got.push(Buffer.from(b)), onError: (e) => errors.push(e) });
  open.push(s);
  return { s, got };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
}

const fdCount = () => readdirSync('/proc/self/fd').length;

afterEach(() => {
  for (const s of open.splice(0)) {
    try {
      s.close();
    } catch {
      /* closed */
    }
  }
});

describe('NativeTransferSocket', () => {
  it('delivers the connected peer only; a packet from another port never arrives', async () => {
    const a = await peer();
    const b = await peer();
    const { s, got } = nativeTo(a.port);
    const tid = s.localPort;
    expect(tid).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) b.sock.send(Buffer.from([0, 4, 0, 99]), tid, HOST);
    a.sock.send(Buffer.from([0, 4, 0, 1]), tid, HOST);
    await until(() => got.length >= 1);
    await sleep(50);
    expect(got).toEqual([Buffer.from([0, 4, 0, 1])]);
  });

  it('sends from the caller buffer to the peer, and delivers 4-byte, longer and oversized datagrams', async () => {
    const a = await peer();
    const { s, got } = nativeTo(a.port);
    const data = Buffer.alloc(600, 7);
    data.writeUInt16BE(3, 0);
    s.send(data, 516);
    await until(() => a.got.length >= 1);
    expect(a.got[0]).toEqual(data.subarray(0, 516));
    const err = Buffer.concat([Buffer.from([0, 5, 0, 1]), Buffer.from('no such thing\0')]);
    const huge = Buffer.alloc(RECV_SLOT_BYTES + 500, 0x41);
    a.sock.send(Buffer.from([0, 4, 0, 2]), s.localPort, HOST);
    a.sock.send(err, s.localPort, HOST);
    a.sock.send(huge, s.localPort, HOST);
    a.sock.send(Buffer.from([0, 4, 0, 3]), s.localPort, HOST);
    await until(() => got.length >= 4);
    expect(got[0]).toEqual(Buffer.from([0, 4, 0, 2]));
    expect(got[1]).toEqual(err);
    // Longer than a slot: truncated to the slot (the opcode and the start survive).
    expect(got[2]).toEqual(huge.subarray(0, RECV_SLOT_BYTES));
    expect(got[3]).toEqual(Buffer.from([0, 4, 0, 3]));
  });

  it('reads a burst larger than one batch without losing datagrams', async () => {
    const a = await peer();
    const { s, got } = nativeTo(a.port);
    const n = RECV_SLOTS * 3 + 5;
    for (let i = 0; i < n; i++) a.sock.send(Buffer.from([0, 4, i >> 8, i & 0xff]), s.localPort, HOST);
    await until(() => got.length >= n);
    expect(got.map((b) => b.readUInt16BE(2))).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('close is idempotent; send after close is a no-op; nothing is delivered after close', async () => {
    const a = await peer();
    const { s, got } = nativeTo(a.port);
    const port = s.localPort;
    s.close();
    s.close();
    expect(s.localPort).toBe(0);
    expect(() => s.send(Buffer.from([0, 3, 0, 1]), 4)).not.toThrow();
    a.sock.send(Buffer.from([0, 4, 0, 1]), port, HOST);
    await sleep(50);
    expect(got).toHaveLength(0);
    expect(a.got).toHaveLength(0);
  });

  it('a socket closed while a datagram is pending does not crash or deliver', async () => {
    for (let i = 0; i < 20; i++) {
      const a = await peer();
      const { s, got } = nativeTo(a.port);
      // Queue datagrams, then close before the loop polls the socket.
      for (let j = 0; j < 5; j++) a.sock.send(Buffer.from([0, 4, 0, j]), s.localPort, HOST);
      await new Promise<void>((r) => a.sock.send(Buffer.from([0, 4, 0, 9]), s.localPort, HOST, () => r()));
      s.close();
      await sleep(5);
      expect(got).toHaveLength(0);
    }
  });

  it('closing from inside the packet callback stops delivery of the rest of the batch', async () => {
    const a = await peer();
    const got: number[] = [];
    const s: NativeTransferSocket = new NativeTransferSocket(addon, HOST, HOST, a.port, {
      onPacket: (b) => {
        got.push(b.readUInt16BE(2));
        s.close();
      },
      onError: () => {},
    });
    open.push(s);
    for (let i = 0; i < 5; i++) a.sock.send(Buffer.from([0, 4, 0, i]), s.localPort, HOST);
    await sleep(100);
    expect(got).toEqual([0]);
  });

  it('an ICMP port unreachable from the peer surfaces as ECONNREFUSED', async () => {
    const a = await peer();
    const gone = a.port;
    await new Promise<void>((r) => a.sock.close(() => r()));
    const errors: NodeJS.ErrnoException[] = [];
    const { s } = nativeTo(gone, errors);
    s.send(Buffer.from([0, 3, 0, 1, 1]), 5);
    await until(() => errors.length > 0);
    // The error is reported either by the next read or by the next send.
    s.send(Buffer.from([0, 3, 0, 1, 1]), 5);
    await until(() => errors.length > 0);
    expect(errors.map((e) => e.code)).toEqual(['ECONNREFUSED']);
  });

  it('refuses bad addresses with an errno error, leaking nothing', () => {
    const before = fdCount();
    expect(() => new NativeTransferSocket(addon, '192.0.2.1', HOST, 9, { onPacket: () => {}, onError: () => {} })).toThrow(expect.objectContaining({ code: 'EADDRNOTAVAIL' }));
    expect(() => new NativeTransferSocket(addon, 'not-an-ip', HOST, 9, { onPacket: () => {}, onError: () => {} })).toThrow();
    expect(fdCount()).toBe(before);
  });

  it('1000 open/close cycles leak no file descriptors', async () => {
    const a = await peer();
    const before = fdCount();
    for (let i = 0; i < 1000; i++) {
      const s = new NativeTransferSocket(addon, HOST, HOST, a.port, { onPacket: () => {}, onError: () => {} });
      if (i % 10 === 0) s.send(Buffer.from([0, 3, 0, 1]), 4);
      s.close();
    }
    await sleep(20);
    expect(fdCount()).toBe(before);
    // The peer got every tenth socket's datagram: the sockets were real.
    await until(() => a.got.length >= 100);
    expect(a.got.length).toBe(100);
  });
});
