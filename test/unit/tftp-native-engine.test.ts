/**
 * The addon's window engine (native/udp.c) through NativeReadTransfer, on
 * loopback, driven packet by packet by a raw dgram client: the steady state
 * (ACK in, DATA out) runs in C, so these tests check its rules on the wire —
 * duplicate and future ACKs, partial windows, rollover, chunk stalls and
 * refills, timeouts, close with a read pending, the empty last block, and the
 * counters in the result.
 */
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ENGINE_STATE, NativeTransferSocket } from '../../src/protocols/tftp/native-socket.js';
import { negotiate } from '../../src/protocols/tftp/options.js';
import { nativePath } from '../../src/protocols/tftp/socket-transfer.js';
import { bufferFile, type SourceFile } from '../../src/protocols/tftp/source.js';
import type { Transfer, TransferResult } from '../../src/protocols/tftp/transfer.js';
import { requireAddon } from '../helpers/tftp-datagram.js';

const HOST = '127.0.0.1';
const addon = requireAddon();
const path = nativePath(addon);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const closers: Array<() => void> = [];

afterEach(() => {
  for (const c of closers.splice(0)) {
    try {
      c();
    } catch {
      /* closed */
    }
  }
});

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(2);
}

function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >> 9) + 3) & 0xff;
  return b;
}

/** A SourceFile over a buffer without `data` (so the transfer reads chunks); `gate` holds each read until released. */
function chunkedFile(data: Buffer, gated = false) {
  const pending: Array<() => void> = [];
  let reads = 0;
  let closed = false;
  const file: SourceFile = {
    size: data.length,
    mtimeMs: 0,
    async read(buf, offset, length, position) {
      reads++;
      if (gated) await new Promise<void>((r) => pending.push(r));
      if (position >= data.length) return 0;
      return data.copy(buf, offset, position, Math.min(data.length, position + length));
    },
    async close() {
      closed = true;
    },
  };
  return { file, release: () => pending.shift()?.(), pending: () => pending.length, reads: () => reads, closed: () => closed };
}

interface Data {
  block: number;
  data: Buffer;
}

/** A raw client: records DATA/OACK/ERROR packets, sends ACKs. */
async function client() {
  const sock = dgram.createSocket('udp4');
  const data: Data[] = [];
  const other: Buffer[] = [];
  sock.on('message', (m) => {
    if (m.readUInt16BE(0) === 3) data.push({ block: m.readUInt16BE(2), data: Buffer.from(m.subarray(4)) });
    else other.push(Buffer.from(m));
  });
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  let open = true;
  const close = () => {
    if (open) sock.close();
    open = false;
  };
  closers.push(close);
  let tid = 0;
  return {
    close,
    port: sock.address().port,
    data,
    other,
    setTid: (p: number) => (tid = p),
    ack: (n: number) => sock.send(Buffer.from([0, 4, (n >> 8) & 0xff, n & 0xff]), tid, HOST),
    raw: (b: Buffer) => sock.send(b, tid, HOST),
  };
}

async function run(file: SourceFile, opts: Array<[string, string]>, o: { chunkSize?: number; timeoutMs?: number; retries?: number } = {}) {
  const c = await client();
  const sock = await path.open(HOST, HOST, c.port);
  closers.push(() => sock.close());
  c.setTid(sock.localPort);
  let result: TransferResult | null = null;
  const t: Transfer = sock.run({
    file,
    netascii: false,
    negotiated: negotiate(opts, file.size, { maxBlksize: 65464, maxWindowsize: 64 }),
    retry: { timeoutMs: o.timeoutMs ?? 2000, maxTimeoutMs: 4000, retries: o.retries ?? 3 },
    chunkSize: o.chunkSize,
    onEnd: (r) => (result = r),
  });
  return { c, t, result: () => result as TransferResult | null };
}

describe('native window engine', () => {
  it('lock-step: one DATA per new ACK; duplicate and future ACKs send nothing and are counted', async () => {
    const data = pattern(1300);
    const { c, result } = await run(bufferFile(data, 0), []);
    await until(() => c.data.length >= 1);
    expect(c.data[0]).toEqual({ block: 1, data: data.subarray(0, 512) });
    c.ack(1);
    await until(() => c.data.length >= 2);
    expect(c.data[1].block).toBe(2);
    c.ack(1); // duplicate (RFC 1123 4.2.3.1)
    c.ack(7); // never sent
    c.ack(1);
    await sleep(100);
    expect(c.data.length).toBe(2);
    c.ack(2);
    await until(() => c.data.length >= 3);
    expect(c.data[2]).toEqual({ block: 3, data: data.subarray(1024) });
    c.ack(3);
    await until(() => result() !== null);
    expect(result()).toEqual({ ok: true, reason: 'complete', bytes: 1300, blocks: 3, retransmits: 0, duplicateAcks: 2, ignoredPackets: 1 });
    expect(c.data.length).toBe(3);
  });

  it('OACK first, then a whole window after ACK 0; a partial-window ACK resends from the next block (RFC 7440 4)', async () => {
    const data = pattern(512 * 10 + 100);
    const { c, result } = await run(bufferFile(data, 0), [['windowsize', '4']]);
    await until(() => c.other.length >= 1);
    expect(c.other[0].readUInt16BE(0)).toBe(6); // OACK
    await sleep(50);
    expect(c.data.length).toBe(0); // nothing before ACK 0
    c.ack(0);
    await until(() => c.data.length >= 4);
    await sleep(30);
    expect(c.data.map((d) => d.block)).toEqual([1, 2, 3, 4]);
    c.ack(2); // blocks 3 and 4 "lost": continue from 3
    await until(() => c.data.length >= 8);
    await sleep(30);
    expect(c.data.slice(4).map((d) => d.block)).toEqual([3, 4, 5, 6]);
    expect(c.data[4].data).toEqual(data.subarray(1024, 1536));
    c.ack(6);
    await until(() => c.data.length >= 12);
    c.ack(10);
    await until(() => c.data.length >= 13);
    expect(c.data[12]).toEqual({ block: 11, data: data.subarray(5120) });
    c.ack(11);
    await until(() => result() !== null);
    expect(result()).toMatchObject({ ok: true, bytes: data.length, blocks: 11, retransmits: 0, duplicateAcks: 0, ignoredPackets: 0 });
  });

  it('a file that is a multiple of blksize ends with an empty DATA', async () => {
    const data = pattern(1024);
    const { c, result } = await run(bufferFile(data, 0), []);
    for (let b = 1; b <= 3; b++) {
      await until(() => c.data.length >= b);
      c.ack(b);
    }
    await until(() => result() !== null);
    expect(c.data.map((d) => d.data.length)).toEqual([512, 512, 0]);
    expect(result()).toMatchObject({ ok: true, bytes: 1024, blocks: 3 });
  });

  it('an empty file is one empty DATA', async () => {
    const { c, result } = await run(chunkedFile(Buffer.alloc(0)).file, [['blksize', '1024']]);
    await until(() => c.other.length >= 1);
    c.ack(0);
    await until(() => c.data.length >= 1);
    expect(c.data[0]).toEqual({ block: 1, data: Buffer.alloc(0) });
    c.ack(1);
    await until(() => result() !== null);
    expect(result()).toMatchObject({ ok: true, bytes: 0, blocks: 1 });
  });

  it('rolls block numbers over past 65535 (blksize 8, windowsize 64, 512-byte chunks refilled 1100 times)', async () => {
    const data = pattern(8 * 70000 + 5);
    const f = chunkedFile(data);
    const { c, result } = await run(f.file, [
      ['blksize', '8'],
      ['windowsize', '64'],
    ], { chunkSize: 512 });
    await until(() => c.other.length >= 1);
    // A windowsize client: ACK every 64th block and the short last one.
    let got = 0;
    const parts: Buffer[] = [];
    c.ack(0);
    const end = Date.now() + 20000;
    while (result() === null && Date.now() < end) {
      await until(() => c.data.length > 0, 500);
      for (const d of c.data.splice(0)) {
        if (d.block !== ((got + 1) & 0xffff)) continue; // out of order: wait for the resend
        got++;
        parts.push(d.data);
        if (got % 64 === 0 || d.data.length < 8) c.ack(d.block);
      }
    }
    expect(result()).toMatchObject({ ok: true, bytes: data.length, blocks: 70001 });
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(f.reads()).toBeGreaterThan(1000);
    expect(f.closed()).toBe(true);
  }, 30000);

  it('stalls at a chunk boundary until the chunk is fed, then continues', async () => {
    const data = pattern(512 * 5);
    const f = chunkedFile(data, true);
    const { c, result } = await run(f.file, [], { chunkSize: 1024 });
    await until(() => f.pending() >= 1);
    await sleep(50);
    expect(c.data.length).toBe(0); // DATA 1 waits for the first chunk
    f.release();
    await until(() => c.data.length >= 1);
    expect(c.data[0].block).toBe(1);
    await until(() => f.pending() >= 1); // the read-ahead chunk (blocks 3-4) is being read
    c.ack(1);
    await until(() => c.data.length >= 2);
    c.ack(2);
    await sleep(100);
    expect(c.data.length).toBe(2); // block 3 is not fed yet
    f.release();
    await until(() => c.data.length >= 3);
    expect(c.data[2]).toEqual({ block: 3, data: data.subarray(1024, 1536) });
    for (let b = 3; b <= 6; b++) {
      await until(() => c.data.length >= b || f.pending() > 0);
      while (f.pending() > 0) f.release();
      await until(() => c.data.length >= b);
      c.ack(b);
    }
    await until(() => result() !== null);
    expect(result()).toMatchObject({ ok: true, bytes: data.length, blocks: 6 });
    expect(Buffer.concat(c.data.map((d) => d.data)).equals(data)).toBe(true);
  });

  it('a timeout resends the whole window from base; progress resets the tries', async () => {
    const data = pattern(512 * 6 + 1);
    const { c, result } = await run(bufferFile(data, 0), [['windowsize', '4']], { timeoutMs: 100, retries: 2 });
    await until(() => c.other.length >= 1);
    c.ack(0);
    await until(() => c.data.length >= 4);
    const t0 = Date.now();
    await until(() => c.data.length >= 8);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(60);
    expect(c.data.slice(4, 8).map((d) => d.block)).toEqual([1, 2, 3, 4]);
    c.ack(3);
    // Two more timeouts (each after progress) would exceed retries 2 without the reset.
    await until(() => c.data.length >= 12);
    expect(c.data.slice(8, 12).map((d) => d.block)).toEqual([4, 5, 6, 7]);
    await until(() => c.data.length >= 16);
    expect(c.data.slice(12, 16).map((d) => d.block)).toEqual([4, 5, 6, 7]);
    c.ack(7);
    await until(() => result() !== null);
    expect(result()).toMatchObject({ ok: true, bytes: data.length, blocks: 7 });
    expect(result()!.retransmits).toBeGreaterThanOrEqual(2);
  });

  it('gives up after the retries with no ACK', async () => {
    const { c, result } = await run(bufferFile(pattern(5000), 0), [['windowsize', '2']], { timeoutMs: 150, retries: 2 });
    await until(() => c.other.length >= 1);
    c.ack(0);
    await until(() => result() !== null, 5000);
    // On a loaded box the OACK may be resent before our ACK 0 arrives: those resends count too.
    const oackResends = c.other.length - 1;
    expect(result()).toMatchObject({ ok: false, reason: 'timeout', blocks: 2, retransmits: 2 + oackResends });
    expect(c.data.map((d) => d.block)).toEqual([1, 2, 1, 2, 1, 2]);
  });

  it('abort while a chunk read is pending: nothing is sent after, the late chunk is dropped', async () => {
    const data = pattern(512 * 8);
    const f = chunkedFile(data, true);
    const { c, t, result } = await run(f.file, [], { chunkSize: 1024 });
    await until(() => f.pending() >= 1);
    f.release();
    await until(() => c.data.length >= 1);
    await until(() => f.pending() >= 1);
    c.ack(1);
    await until(() => c.data.length >= 2);
    c.ack(2); // block 3 waits for the pending chunk
    await sleep(30);
    t.abort('test');
    expect(result()).toMatchObject({ ok: false, reason: 'aborted: test', blocks: 2 });
    expect(f.closed()).toBe(true);
    f.release();
    await sleep(50);
    expect(c.data.length).toBe(2);
  });

  it('a client gone after ACK 0 (ICMP port unreachable for the window) aborts with ECONNREFUSED', async () => {
    const { c, result } = await run(bufferFile(pattern(50000), 0), [['windowsize', '8']], { timeoutMs: 100 });
    await until(() => c.other.length >= 1);
    c.ack(0);
    await sleep(5);
    c.close();
    await until(() => result() !== null, 3000);
    expect(result()?.ok).toBe(false);
    expect(result()?.reason).toMatch(/^aborted: socket error: .*ECONNREFUSED/);
  });

  it('an ERROR from the client ends the transfer; an odd datagram is ignored and counted', async () => {
    const { c, result } = await run(bufferFile(pattern(4000), 0), [['blksize', '1024']]);
    await until(() => c.other.length >= 1);
    c.ack(0);
    c.ack(0); // duplicate, possibly in the same batch as the first
    await until(() => c.data.length >= 1);
    c.raw(Buffer.from([0, 9, 1, 2, 3]));
    c.ack(1);
    await until(() => c.data.length >= 2);
    c.raw(Buffer.concat([Buffer.from([0, 5, 0, 3]), Buffer.from('disk full\0')]));
    await until(() => result() !== null);
    expect(result()).toEqual({ ok: false, reason: 'client error 3: disk full', bytes: 2048, blocks: 2, retransmits: 0, duplicateAcks: 1, ignoredPackets: 1 });
  });

  it('refuses a chunk that is not whole blocks, a second configuration, and calls before configuration', async () => {
    const c = await client();
    const s = new NativeTransferSocket(addon, HOST, HOST, c.port, { onPacket: () => {}, onError: () => {} });
    closers.push(() => s.close());
    expect(() => s.go()).toThrow(/not configured/);
    const st = s.startEngine(512, 4, () => {});
    expect(st[ENGINE_STATE.WANT]).toBe(1);
    expect(() => s.startEngine(512, 4, () => {})).toThrow(/already configured/);
    expect(() => s.feed(Buffer.alloc(1000), 1000, false)).toThrow(RangeError);
    s.feed(Buffer.alloc(1024), 1024, false);
    expect(st[ENGINE_STATE.FED]).toBe(1024);
    s.feed(Buffer.alloc(100), 100, true);
    expect(st[ENGINE_STATE.FINAL]).toBe(3);
    expect(st[ENGINE_STATE.FINAL_LEN]).toBe(100);
    s.go();
    await until(() => c.data.length >= 1);
    expect(c.data[0]).toEqual({ block: 1, data: Buffer.alloc(512) });
  });

  it('500 engine open/feed/close cycles (some mid-window) leak no descriptors', async () => {
    const c = await client();
    const before = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 500; i++) {
      const s = new NativeTransferSocket(addon, HOST, HOST, c.port, { onPacket: () => {}, onError: () => {} });
      s.startEngine(512, 8, () => {});
      s.feed(Buffer.alloc(512 * 16), 512 * 16, false);
      if (i % 2 === 0) s.go();
      s.close();
      s.close();
      s.feed(Buffer.alloc(512), 512, false); // after close: a no-op
    }
    await sleep(50);
    expect(readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(before);
  });
});
