import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReadTransfer, type TransferResult } from '../../src/protocols/tftp/transfer.js';
import { negotiate } from '../../src/protocols/tftp/options.js';
import { bufferFile } from '../../src/protocols/tftp/source.js';
import { decode, OP } from '../../src/protocols/tftp/packet.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const ack = (n: number) => Buffer.from([0, 4, (n >> 8) & 0xff, n & 0xff]);

function setup(size: number, opts: Array<[string, string]> = [], retry = { timeoutMs: 100, maxTimeoutMs: 400, retries: 3 }) {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + 3) & 0xff;
  const sent: Buffer[] = [];
  let closed = 0;
  let result: TransferResult | null = null;
  const t = new ReadTransfer({
    file: bufferFile(data, 0),
    netascii: false,
    negotiated: negotiate(opts, size, { maxBlksize: 65464, maxWindowsize: 64 }),
    retry,
    chunkSize: 4096,
    io: { send: (b, len) => sent.push(Buffer.from(b.subarray(0, len))), close: () => closed++ },
    onEnd: (r) => (result = r),
  });
  const take = () => sent.splice(0).map((b) => decode(b)).map((d) => (d.ok ? d.packet : null));
  return { t, data, sent, take, closed: () => closed, result: () => result };
}

describe('ReadTransfer', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('lock-step: one DATA per new ACK, short last block ends it (RFC 1350)', async () => {
    const s = setup(1200);
    s.t.start();
    await settle();
    expect(s.take()).toEqual([{ op: OP.DATA, block: 1, data: s.data.subarray(0, 512) }]);
    s.t.onPacket(ack(1));
    await settle();
    expect(s.take()).toEqual([{ op: OP.DATA, block: 2, data: s.data.subarray(512, 1024) }]);
    s.t.onPacket(ack(2));
    await settle();
    expect(s.take()).toEqual([{ op: OP.DATA, block: 3, data: s.data.subarray(1024) }]);
    s.t.onPacket(ack(3));
    expect(s.result()).toMatchObject({ ok: true, reason: 'complete', bytes: 1200, blocks: 3 });
    expect(s.closed()).toBe(1);
  });

  it('never answers a duplicate or future ACK with a send (RFC 1123 4.2.3.1)', async () => {
    const s = setup(4096);
    s.t.start();
    await settle();
    s.take();
    s.t.onPacket(ack(1));
    await settle();
    expect(s.take().map((p) => (p as { block: number }).block)).toEqual([2]);
    for (let i = 0; i < 5; i++) s.t.onPacket(ack(1)); // duplicates
    s.t.onPacket(ack(9)); // future
    s.t.onPacket(ack(60000)); // far away
    s.t.onPacket(Buffer.from([0, 3, 0, 1, 1, 2])); // DATA to a read transfer
    await settle();
    expect(s.sent).toHaveLength(0);
    s.t.onPacket(ack(2));
    await settle();
    expect(s.take().map((p) => (p as { block: number }).block)).toEqual([3]);
  });

  it('sends a zero-length final block when the size is a multiple of blksize', async () => {
    const s = setup(1024);
    s.t.start();
    await settle();
    s.t.onPacket(ack(1));
    await settle();
    s.t.onPacket(ack(2));
    await settle();
    const p = s.take();
    expect(p[p.length - 1]).toEqual({ op: OP.DATA, block: 3, data: Buffer.alloc(0) });
    s.t.onPacket(ack(3));
    expect(s.result()).toMatchObject({ ok: true, bytes: 1024 });
  });

  it('with options sends only the OACK before ACK 0, and retransmits it with backoff (RFC 2347)', async () => {
    const s = setup(100, [['blksize', '64'], ['tsize', '0']]);
    s.t.start();
    await settle();
    expect(s.take()).toEqual([{ op: OP.OACK, options: [['blksize', '64'], ['tsize', '100']] }]);
    s.t.onPacket(ack(1)); // not ACK 0: ignored
    await settle();
    expect(s.sent).toHaveLength(0);
    vi.advanceTimersByTime(100);
    expect(s.take()).toEqual([{ op: OP.OACK, options: [['blksize', '64'], ['tsize', '100']] }]);
    vi.advanceTimersByTime(150);
    expect(s.sent).toHaveLength(0); // backoff: next one at +200
    vi.advanceTimersByTime(50);
    expect(s.sent).toHaveLength(1);
    s.take();
    s.t.onPacket(ack(0));
    await settle();
    expect(s.take()).toEqual([{ op: OP.DATA, block: 1, data: s.data.subarray(0, 64) }]);
  });

  it('gives up after the configured retries', async () => {
    const s = setup(100);
    s.t.start();
    await settle();
    vi.advanceTimersByTime(100 + 200 + 400 + 400);
    expect(s.sent).toHaveLength(4); // first send + 3 retransmissions
    expect(s.result()).toMatchObject({ ok: false, reason: 'timeout', retransmits: 3 });
  });

  it('windowsize: keeps W blocks in flight and resumes after a partial ACK (RFC 7440)', async () => {
    const s = setup(8 * 10 + 3, [['blksize', '8'], ['windowsize', '4']]);
    s.t.start();
    await settle();
    s.take();
    s.t.onPacket(ack(0));
    await settle();
    expect(s.take().map((p) => (p as { block: number }).block)).toEqual([1, 2, 3, 4]);
    s.t.onPacket(ack(2)); // blocks 3 (and maybe 4) lost
    await settle();
    expect(s.take().map((p) => (p as { block: number }).block)).toEqual([3, 4, 5, 6]);
    s.t.onPacket(ack(2)); // duplicate: nothing
    await settle();
    expect(s.sent).toHaveLength(0);
    s.t.onPacket(ack(6));
    await settle();
    expect(s.take().map((p) => (p as { block: number }).block)).toEqual([7, 8, 9, 10]);
    vi.advanceTimersByTime(100); // timeout: the window is resent from the first unacknowledged block
    expect(s.take().map((p) => (p as { block: number }).block)).toEqual([7, 8, 9, 10]);
    s.t.onPacket(ack(10));
    await settle();
    const last = s.take();
    expect(last).toEqual([{ op: OP.DATA, block: 11, data: s.data.subarray(80) }]);
    s.t.onPacket(ack(11));
    expect(s.result()).toMatchObject({ ok: true, bytes: 83, retransmits: 1 });
  });

  it('rolls block numbers over past 65535 (files larger than 32 MiB at 512)', async () => {
    const blocks = 65536 + 10;
    const s = setup(8 * blocks + 1, [['blksize', '8']]);
    s.t.start();
    await settle();
    s.take();
    s.t.onPacket(ack(0));
    let expected = 1;
    let wrong = 0;
    const got = Buffer.alloc(8 * blocks + 1);
    let off = 0;
    while (!s.result()) {
      if (s.sent.length === 0) {
        await settle();
        continue;
      }
      const b = s.sent.shift()!;
      if (s.sent.length !== 0 || b.readUInt16BE(0) !== OP.DATA || b.readUInt16BE(2) !== (expected & 0xffff)) wrong++;
      off += b.copy(got, off, 4);
      s.t.onPacket(ack(b.readUInt16BE(2)));
      expected++;
    }
    expect(wrong).toBe(0);
    expect(s.result()).toMatchObject({ ok: true, blocks: blocks + 1 });
    expect(got.equals(s.data)).toBe(true);
  });

  it('ends on a client ERROR (e.g. ERROR 8 in answer to the OACK)', async () => {
    const s = setup(100, [['blksize', '64']]);
    s.t.start();
    await settle();
    s.t.onPacket(Buffer.from('\x00\x05\x00\x08no thanks\0', 'latin1'));
    expect(s.result()).toMatchObject({ ok: false, reason: 'client error 8: no thanks' });
  });
});

describe('ReadTransfer timeout option', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());
  it('uses a negotiated timeout as the upper bound of the backoff (RFC 2349)', async () => {
    const s = setup(100, [['timeout', '1']], { timeoutMs: 300, maxTimeoutMs: 8000, retries: 5 });
    s.t.start();
    await settle();
    expect(s.take()).toEqual([{ op: OP.OACK, options: [['timeout', '1']] }]);
    vi.advanceTimersByTime(300);
    expect(s.take()).toHaveLength(1); // first retransmission after 300 ms
    vi.advanceTimersByTime(599);
    expect(s.sent).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(s.take()).toHaveLength(1); // then 600 ms
    vi.advanceTimersByTime(1000);
    expect(s.take()).toHaveLength(1); // then capped at 1 s (not 1.2 s)
  });
});

describe('ReadTransfer read-ahead', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('builds the next block before its ACK, never sends it early, and still retransmits while a read is pending', async () => {
    const size = 4096 + 100;
    const data = Buffer.alloc(size, 7);
    let release: (() => void) | null = null;
    const reads: number[] = [];
    const sent: Buffer[] = [];
    let result: TransferResult | null = null;
    const t = new ReadTransfer({
      file: {
        size,
        mtimeMs: 0,
        read: (buf, off, len, pos) => {
          reads.push(pos);
          const n = data.copy(buf, off, pos, Math.min(size, pos + len));
          // The second chunk's read stays pending until released.
          return pos === 0 ? Promise.resolve(n) : new Promise((r) => (release = () => r(n)));
        },
        close: async () => {},
      },
      netascii: false,
      negotiated: negotiate([], size, { maxBlksize: 65464, maxWindowsize: 64 }),
      retry: { timeoutMs: 100, maxTimeoutMs: 400, retries: 3 },
      chunkSize: 4096,
      io: { send: (b, len) => sent.push(Buffer.from(b.subarray(0, len))), close: () => {} },
      onEnd: (r) => (result = r),
    });
    const blocks = () => sent.splice(0).map((b) => b.readUInt16BE(2));
    t.start();
    await settle();
    expect(blocks()).toEqual([1]); // one packet before the first ACK
    for (let b = 1; b < 8; b++) {
      t.onPacket(ack(b));
      expect(blocks()).toEqual([b + 1]); // sent synchronously from a prebuilt slot
    }
    await settle();
    expect(reads).toEqual([0, 4096]);
    expect(sent).toHaveLength(0);
    // Block 9 needs the pending chunk; the timer still resends block 8.
    vi.advanceTimersByTime(100);
    expect(blocks()).toEqual([8]);
    t.onPacket(ack(8));
    expect(sent).toHaveLength(0);
    release!();
    await settle();
    expect(blocks()).toEqual([9]);
    t.onPacket(ack(9));
    expect(result).toMatchObject({ ok: true, bytes: size, blocks: 9, retransmits: 1 });
  });
});
