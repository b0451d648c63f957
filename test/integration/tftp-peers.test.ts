/**
 * The TFTP server on loopback against real clients: tftp-hpa, atftp and curl,
 * plus a raw UDP client for malformed and hostile input.
 */
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TftpServer, type TransferRecord } from '../../src/protocols/tftp/server.js';
import { TransferPool, spawnTransferWorker } from '../../src/protocols/tftp/pool.js';
import { BootFileSource } from '../../src/services/boot-files.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { systemClock } from '../../src/lib/clock.js';
import { decode, encode, OP } from '../../src/protocols/tftp/packet.js';
import { have } from '../helpers/netns.js';
import { run, sha } from '../helpers/run.js';
import { datagramKinds, datagramPath } from '../helpers/tftp-datagram.js';

const HOST = '127.0.0.1';
let dir: string;
let root: string;
let server: TftpServer;
let big: string;
let bigSum: string;
const records: TransferRecord[] = [];
const log = memoryLogger();


/** Send one datagram from a fresh socket and collect replies for `ms`. */
async function exchange(payloads: Buffer[], ms = 300, port = server.port): Promise<{ replies: Array<{ msg: Buffer; port: number }>; sock: dgram.Socket }> {
  const sock = dgram.createSocket('udp4');
  const replies: Array<{ msg: Buffer; port: number }> = [];
  sock.on('message', (msg, r) => replies.push({ msg, port: r.port }));
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  for (const p of payloads) sock.send(p, port, HOST);
  await new Promise((r) => setTimeout(r, ms));
  return { replies, sock };
}
const rrq = (file: string, mode = 'octet', opts: string[] = []) => encode({ op: OP.RRQ, filename: file, mode, options: chunkPairs(opts) });
function chunkPairs(a: string[]): Array<[string, string]> {
  const o: Array<[string, string]> = [];
  for (let i = 0; i < a.length; i += 2) o.push([a[i], a[i + 1]]);
  return o;
}
const ack = (n: number) => encode({ op: OP.ACK, block: n });
const dec = (b: Buffer) => {
  const d = decode(b);
  return d.ok ? d.packet : null;
};

/** A small normal request must still be served (the server survived what came before). */
async function stillServes(): Promise<void> {
  const out = join(dir, `still-${Math.random().toString(36).slice(2)}`);
  const r = await run('curl', ['-sS', '--max-time', '10', '-o', out, `tftp://${HOST}:${server.port}/small.txt`]);
  expect(r.code, r.out).toBe(0);
  expect(readFileSync(out, 'utf8')).toBe('hello tftp\n');
}

const peers = have('tftp') && have('atftp') && have('curl');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crowbar-tftp-'));
  root = join(dir, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  big = join(root, 'big.bin');
  // 50 MiB of pseudo-random bytes (past the 65535-block rollover at 512-byte blocks)
  const b = Buffer.allocUnsafe(50 * 1024 * 1024);
  let x = 0x12345678;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  writeFileSync(big, b);
  bigSum = sha(big);
  writeFileSync(join(root, 'small.txt'), 'hello tftp\n');
  writeFileSync(join(root, 'mid.bin'), b.subarray(0, 3 * 1024 * 1024 + 17));
  writeFileSync(join(dir, 'outside.txt'), 'secret outside\n');
  symlinkSync(join(dir, 'outside.txt'), join(root, 'sub', 'leak'));
  symlinkSync('/etc', join(root, 'etc'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// Every test below runs against both transfer datagram paths (native addon and node:dgram).
describe.each(datagramKinds())('datagram path %s', (kind) => {
  // The 50 MiB matrix runs on the native path (the default); in the default run the node:dgram
  // fallback gets the same clients and options on a 3 MiB file (CROWBAR_TFTP_DATAGRAM=dgram: 50 MiB).
  const full = kind === 'native' || process.env.CROWBAR_TFTP_DATAGRAM === 'dgram';
  const file = full ? 'big.bin' : 'mid.bin';
  const size = full ? '50 MiB' : '3 MiB';
  const fileSum = (): string => (full ? bigSum : sha(join(root, 'mid.bin')));
  beforeAll(async () => {
    const source = new BootFileSource({ root, now: () => Date.now() });
    // CROWBAR_TFTP_WORKERS=N runs this whole file with transfers on N worker threads (default: in process).
    const workers = Number(process.env.CROWBAR_TFTP_WORKERS ?? 0);
    const pool = workers > 0 ? new TransferPool({ size: workers, log, spawn: spawnTransferWorker, now: () => Date.now() }) : null;
    records.length = 0;
    server = new TftpServer({ bind: HOST, port: 0, source, log, clock: systemClock, pool, datagram: datagramPath(kind), limits: { timeoutMs: 200, maxTimeoutMs: 800 } });
    server.onTransfer = (r) => records.push(r);
    await server.start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe.skipIf(!peers)('TFTP with real clients', () => {
    it(`tftp-hpa fetches ${size} (512-byte blocks${full ? ', block numbers roll over' : ''})`, async () => {
      const out = join(dir, 'hpa.out');
      const r = await run('tftp', ['-m', 'binary', HOST, String(server.port), '-c', 'get', file, out]);
      expect(r.code, r.out).toBe(0);
      expect(sha(out)).toBe(fileSum());
    });

    it(`curl fetches ${size} with default options and with blksize 1468`, async () => {
      for (const args of [[], ['--tftp-blksize', '1468']]) {
        const out = join(dir, `curl${args.join('')}.out`);
        const r = await run('curl', ['-sS', '--max-time', '60', ...args, '-o', out, `tftp://${HOST}:${server.port}/${file}`]);
        expect(r.code, `${args} ${r.out}`).toBe(0);
        expect(sha(out), args.join(' ')).toBe(fileSum());
      }
    });

    it(`atftp fetches ${size} without options and with blksize, windowsize and tsize`, async () => {
      const variants = [[], ['--option', 'blksize 1468'], ['--option', 'blksize 1468', '--option', 'windowsize 16', '--option', 'tsize 0'], ['--option', 'windowsize 16']];
      for (const opts of variants) {
        const out = join(dir, `atftp${opts.length}.out`);
        const r = await run('atftp', ['-g', '-r', file, '-l', out, ...opts, HOST, String(server.port)], 90_000);
        expect(r.code, `${opts} ${r.out}`).toBe(0);
        expect(sha(out), opts.join(' ')).toBe(fileSum());
      }
      // The last client exits after its final ACK; the server records the transfer when that ACK arrives.
      for (let i = 0; i < 100 && records.filter((x) => x.windowsize === 16 && x.ok).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      const w = records.filter((x) => x.windowsize === 16 && x.ok);
      expect(w.length).toBeGreaterThanOrEqual(2);
    });

    it('atftp with a non-numeric tsize value still gets the file (option ignored)', async () => {
      const out = join(dir, 'atftp-enable.out');
      const r = await run('atftp', ['-g', '-r', 'small.txt', '-l', out, '--option', 'tsize enable', HOST, String(server.port)]);
      expect(r.code, r.out).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('hello tftp\n');
    });

    it('20 parallel clients all complete', async () => {
      const mid = sha(join(root, 'mid.bin'));
      const jobs = Array.from({ length: 20 }, (_, i) => {
        const out = join(dir, `par${i}.out`);
        const args = i % 2 ? ['--tftp-blksize', '1468'] : [];
        return run('curl', ['-sS', '--max-time', '60', ...args, '-o', out, `tftp://${HOST}:${server.port}/mid.bin`]).then((r) => ({ r, out }));
      });
      const res = await Promise.all(jobs);
      for (const { r, out } of res) {
        expect(r.code, r.out).toBe(0);
        expect(sha(out)).toBe(mid);
      }
    });

    it('refuses path escapes with an ERROR (tftp-hpa, curl, atftp)', async () => {
      for (const p of ['../outside.txt', 'sub/leak', 'etc/passwd', '/etc/passwd', 'sub/../../outside.txt', 'sub\\..\\..\\outside.txt', '%2e%2e/outside.txt']) {
        const out = join(dir, 'escape.out');
        rmSync(out, { force: true });
        const r = await run('atftp', ['-g', '-r', p, '-l', out, HOST, String(server.port)], 20_000);
        expect(r.code, p).not.toBe(0);
        expect(r.out, p).toMatch(/access violation/i);
        let size = 0;
        try {
          size = statSync(out).size;
        } catch {
          /* not created */
        }
        expect(size, p).toBe(0);
      }
      const c = await run('curl', ['-sS', '--max-time', '10', '-o', join(dir, 'x'), `tftp://${HOST}:${server.port}/sub/leak`]);
      expect(c.code, c.out).toBe(69); // CURLE_TFTP_PERM: the server answered ERROR 2
      const h = await run('tftp', ['-m', 'binary', HOST, String(server.port), '-c', 'get', '../outside.txt', join(dir, 'y')]);
      expect(h.out).toMatch(/access violation/i);
      const nf = await run('curl', ['-sS', '--max-time', '10', '-o', join(dir, 'z'), `tftp://${HOST}:${server.port}/nope.bin`]);
      expect(nf.code, nf.out).toBe(68); // CURLE_TFTP_NOTFOUND: ERROR 1
    });
  });

  describe('TFTP hostile and malformed input', () => {
    it('1-byte datagram and empty datagram: no reply, no crash', async () => {
      const { replies, sock } = await exchange([Buffer.from([1]), Buffer.alloc(0)]);
      sock.close();
      expect(replies).toHaveLength(0);
      await stillServes();
    });

    it('RRQ without NULs, unknown mode, unknown opcode: ERROR 4', async () => {
      const cases = [Buffer.from('\x00\x01small.txt', 'latin1'), rrq('small.txt', 'mail'), rrq('small.txt', 'bogus'), Buffer.from('\x00\x09zz', 'latin1')];
      for (const c of cases) {
        const { replies, sock } = await exchange([c], 200);
        sock.close();
        expect(replies.map((r) => dec(r.msg))).toEqual([expect.objectContaining({ op: OP.ERROR, code: 4 })]);
      }
      await stillServes();
    });

    it('write requests are refused with ERROR 2', async () => {
      const { replies, sock } = await exchange([encode({ op: OP.WRQ, filename: 'up.bin', mode: 'octet', options: [] })]);
      sock.close();
      expect(replies.map((r) => dec(r.msg))).toEqual([expect.objectContaining({ op: OP.ERROR, code: 2 })]);
    });

    it('blksize 0, blksize 70000 and windowsize 0 are negotiated safely', async () => {
      const a = await exchange([rrq('small.txt', 'octet', ['blksize', '0', 'windowsize', '0'])], 120);
      a.sock.close();
      // every option ignored: no OACK, plain DATA 1 with 512-byte semantics
      expect(a.replies.map((r) => dec(r.msg))).toEqual([{ op: OP.DATA, block: 1, data: Buffer.from('hello tftp\n') }]);
      const b = await exchange([rrq('small.txt', 'octet', ['blksize', '70000', 'tsize', '0'])], 120);
      b.sock.close();
      expect(b.replies.map((r) => dec(r.msg))).toEqual([{ op: OP.OACK, options: [['blksize', '65464'], ['tsize', '11']] }]);
      await stillServes();
    });

    it('duplicate and future ACKs cause no extra sends; only one packet goes out before the first ACK', async () => {
      const sock = dgram.createSocket('udp4');
      const got: Array<{ msg: Buffer; port: number }> = [];
      sock.on('message', (msg, r) => got.push({ msg, port: r.port }));
      await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
      const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
      sock.send(rrq('mid.bin', 'octet', ['blksize', '1024']), server.port, HOST);
      sock.send(rrq('mid.bin', 'octet', ['blksize', '1024']), server.port, HOST); // retransmitted RRQ: no second transfer
      await wait(120);
      expect(got.map((g) => dec(g.msg)?.op)).toEqual([OP.OACK]);
      const tid = got[0].port;
      expect(tid).not.toBe(server.port);
      got.length = 0;
      sock.send(ack(0), tid, HOST);
      await wait(50);
      expect(got.map((g) => (dec(g.msg) as { block: number }).block)).toEqual([1]);
      got.length = 0;
      for (let i = 0; i < 10; i++) sock.send(ack(0), tid, HOST); // duplicates of the OACK ack
      sock.send(ack(5), tid, HOST); // future
      sock.send(ack(40000), tid, HOST);
      await wait(100);
      expect(got).toHaveLength(0);
      sock.send(ack(1), tid, HOST);
      await wait(50);
      expect(got.map((g) => (dec(g.msg) as { block: number }).block)).toEqual([2]);
      got.length = 0;
      // stop acking: retransmissions of block 2 only, with backoff (200, 400 ms ...)
      await wait(700);
      expect(got.length).toBeGreaterThanOrEqual(2);
      expect(got.every((g) => (dec(g.msg) as { block: number }).block === 2)).toBe(true);
      sock.send(encode({ op: OP.ERROR, code: 0, message: 'bye' }), tid, HOST);
      sock.close();
      await stillServes();
    });

    it('a flood of junk does not stop the server', async () => {
      const junk: Buffer[] = [];
      for (let i = 0; i < 500; i++) junk.push(Buffer.from(Array.from({ length: (i % 30) + 1 }, (_, j) => (i * 13 + j * 101) & 0xff)));
      const { sock } = await exchange(junk, 200);
      sock.close();
      await stillServes();
    });
  });
});
