/**
 * The TFTP server with its transfer worker pool on, on loopback: real curl
 * clients in parallel, generated files through a worker, a worker killed or
 * crashing mid-transfer (the server keeps serving, the pool replaces it),
 * and stop() ending every thread (a child process exits by itself).
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { decode, encode, OP } from '../../src/protocols/tftp/packet.js';
import { TransferPool, spawnTransferWorker } from '../../src/protocols/tftp/pool.js';
import { TftpServer, type TransferRecord } from '../../src/protocols/tftp/server.js';
import { BootFileSource } from '../../src/services/boot-files.js';
import { have } from '../helpers/netns.js';
import { run, sha } from '../helpers/run.js';
import { datagramKinds, datagramPath } from '../helpers/tftp-datagram.js';

const HOST = '127.0.0.1';
let dir: string;
let root: string;
let server: TftpServer;
let pool: TransferPool;
const records: TransferRecord[] = [];
const log = memoryLogger();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

async function stillServes(port = server.port): Promise<void> {
  const out = join(dir, `still-${Math.random().toString(36).slice(2)}`);
  const r = await run('curl', ['-sS', '--max-time', '10', '-o', out, `tftp://${HOST}:${port}/small.txt`]);
  expect(r.code, r.out).toBe(0);
  expect(readFileSync(out, 'utf8')).toBe('hello tftp\n');
}

/**
 * Start a transfer that waits on a worker: RRQ with blksize, take the OACK
 * from the transfer port and never ACK it. Returns the socket and the
 * transfer port.
 */
async function hangingTransfer(port = server.port): Promise<{ sock: dgram.Socket; tid: number; msgs: Buffer[] }> {
  const sock = dgram.createSocket('udp4');
  const msgs: Buffer[] = [];
  let tid = 0;
  sock.on('message', (m, r) => {
    msgs.push(m);
    tid = r.port;
  });
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  sock.send(encode({ op: OP.RRQ, filename: 'mid.bin', mode: 'octet', options: [['blksize', '1024']] }), port, HOST);
  const end = Date.now() + 5000;
  while (tid === 0 && Date.now() < end) await sleep(10);
  expect(tid, 'an OACK from a transfer port').not.toBe(0);
  const first = decode(msgs[0]);
  expect(first.ok && first.packet.op).toBe(OP.OACK);
  return { sock, tid, msgs };
}

const peers = have('curl');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crowbar-tftpw-'));
  root = join(dir, 'root');
  mkdirSync(root, { recursive: true });
  const b = Buffer.allocUnsafe(3 * 1024 * 1024 + 17);
  let x = 0x2545f491;
  for (let i = 0; i + 4 <= b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  writeFileSync(join(root, 'mid.bin'), b);
  writeFileSync(join(root, 'small.txt'), 'hello tftp\n');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// Every test below runs with each transfer datagram path (native addon and node:dgram) in the workers.
describe.each(datagramKinds())('datagram path %s', (kind) => {
  beforeAll(async () => {
    const source = new BootFileSource({ root, now: () => Date.now() });
    source.addGenerator('gen/', (req, rest) => Buffer.from(`generated ${rest} for ${req.remoteAddress}\n`));
    pool = new TransferPool({ size: 2, log, spawn: spawnTransferWorker, now: () => Date.now() });
    records.length = 0;
    server = new TftpServer({ bind: HOST, port: 0, source, log, clock: systemClock, pool, datagram: datagramPath(kind), limits: { timeoutMs: 200, maxTimeoutMs: 800, retries: 3 } });
    server.onTransfer = (r) => records.push(r);
    await server.start();
    expect(pool.threads).toBe(2);
    expect(pool.available).toBe(true);
  });

  afterAll(async () => {
    await server?.stop();
    expect(pool.threads).toBe(0);
  });

  describe.skipIf(!peers)('TFTP transfers on worker threads', () => {
    it('20 parallel curl clients all complete, spread over both workers', async () => {
      const mid = sha(join(root, 'mid.bin'));
      const before = pool.stats.dispatched;
      let maxLoad = [0, 0];
      const watch = setInterval(() => (maxLoad = pool.load.map((n, i) => Math.max(n, maxLoad[i]))), 5);
      const jobs = Array.from({ length: 20 }, (_, i) => {
        const out = join(dir, `par${i}.out`);
        const args = i % 2 ? ['--tftp-blksize', '1468'] : [];
        return run('curl', ['-sS', '--max-time', '60', ...args, '-o', out, `tftp://${HOST}:${server.port}/mid.bin`]).then((r) => ({ r, out }));
      });
      const res = await Promise.all(jobs);
      clearInterval(watch);
      for (const { r, out } of res) {
        expect(r.code, r.out).toBe(0);
        expect(sha(out)).toBe(mid);
      }
      expect(pool.stats.dispatched - before).toBe(20);
      expect(maxLoad.every((n) => n > 0), `per-worker peak load ${maxLoad}`).toBe(true);
      // Records and logs come back to the main thread. A client exits after sending
      // its final ACK, so the server's record of that ACK can land just after curl exits.
      await waitFor(() => records.filter((r) => r.path === 'mid.bin').length >= 20 && log.records.filter((r) => r.msg === 'tftp: transfer complete').length >= 20, 5000).catch(() => {});
      expect(records.filter((r) => r.ok && r.path === 'mid.bin').length).toBeGreaterThanOrEqual(20);
      expect(log.records.filter((r) => r.msg === 'tftp: transfer complete').length).toBeGreaterThanOrEqual(20);
    });

    it('serves generated files (bytes handed to the worker) and netascii', async () => {
      const out = join(dir, 'gen.out');
      const r = await run('curl', ['-sS', '--max-time', '10', '-o', out, `tftp://${HOST}:${server.port}/gen/abc`]);
      expect(r.code, r.out).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe(`generated abc for ${HOST}\n`);
      if (have('tftp')) {
        const o2 = join(dir, 'ascii.out');
        const h = await run('tftp', ['-m', 'ascii', HOST, String(server.port), '-c', 'get', 'small.txt', o2]);
        expect(h.code, h.out).toBe(0);
        expect(readFileSync(o2, 'utf8')).toBe('hello tftp\n');
      }
    });

    for (const [how, label] of [['killed', 'is killed'], ['throws', 'throws']] as const) {
      it(`a worker that ${label} mid-transfer fails that transfer, is replaced, and the server keeps serving`, async () => {
        const deaths = pool.stats.deaths;
        const { sock, tid, msgs } = await hangingTransfer();
        const busy = pool.load.findIndex((n) => n > 0);
        expect(busy).toBeGreaterThanOrEqual(0);
        const failedBefore = records.filter((r) => !r.ok).length;
        if (how === 'killed') await pool.kill(busy);
        else pool.crash(busy);
        await waitFor(() => pool.stats.deaths > deaths);
        await waitFor(() => records.filter((r) => !r.ok).length > failedBefore);
        const failed = records.filter((r) => !r.ok).at(-1)!;
        expect(failed.reason).toMatch(/^worker died/);
        expect(log.records.some((r) => r.level === 'error' && r.msg === 'tftp: transfer worker died; replacing it')).toBe(true);
      // The client is told, from the transfer's own port, instead of timing out.
      await waitFor(() => msgs.some((m) => m.readUInt16BE(0) === OP.ERROR), 3000);
      expect(decode(msgs.find((m) => m.readUInt16BE(0) === OP.ERROR)!)).toMatchObject({ ok: true, packet: { op: OP.ERROR, code: 0 } });
        // The dead worker's transfer socket is gone: an ACK to it brings no DATA.
        const got: Buffer[] = [];
        sock.removeAllListeners('message');
        sock.on('message', (m) => got.push(m));
        sock.on('error', () => {});
        sock.send(encode({ op: OP.ACK, block: 0 }), tid, HOST);
        await sleep(300);
        sock.close();
        expect(got.filter((m) => m.readUInt16BE(0) === OP.DATA)).toHaveLength(0);
        // Served right away (in process or by the other worker), and again once the pool is whole.
        await stillServes();
        await waitFor(() => pool.threads === 2 && pool.available, 20_000);
        const out = join(dir, `after-${how}.out`);
        const r = await run('curl', ['-sS', '--max-time', '30', '--tftp-blksize', '1468', '-o', out, `tftp://${HOST}:${server.port}/mid.bin`]);
        expect(r.code, r.out).toBe(0);
        expect(sha(out)).toBe(sha(join(root, 'mid.bin')));
      });
    }
  });

  describe('TFTP worker pool shutdown', () => {
    it('a server whose port cannot be bound ends its worker threads before rejecting', async () => {
      const p2 = new TransferPool({ size: 1, log, spawn: spawnTransferWorker, now: () => Date.now() });
      const s2 = new TftpServer({ bind: HOST, port: server.port, source: new BootFileSource({ root, now: () => Date.now() }), log, clock: systemClock, pool: p2 });
      await expect(s2.start()).rejects.toThrow();
      expect(p2.threads).toBe(0);
    });

    it('stop() aborts running transfers and ends every worker thread (the process exits by itself)', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', resolve('test/helpers/tftp-pool-child.ts'), root, '2', kind], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        await waitFor(() => /port \d+ threads=2/.test(out), 30_000);
        const port = Number(/port (\d+)/.exec(out)![1]);
        if (peers) await stillServes(port);
        const { sock, msgs } = await hangingTransfer(port);
        child.stdin.write('stop\n');
        child.stdin.end();
        const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
        expect(code, out).toBe(0);
        expect(out).toMatch(/stopped threads=0/);
        // The aborted transfer told its client (ERROR from the transfer port).
        await sleep(50);
        sock.close();
        expect(msgs.some((m) => m.readUInt16BE(0) === OP.ERROR)).toBe(true);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});
