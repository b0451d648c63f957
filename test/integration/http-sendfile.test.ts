/**
 * File bodies with sendfile(2) (src/http/native/sendfile.c, services.http.sendfile)
 * on a real appliance process with curl: full, Range 206, suffix and 416;
 * sha256 of a 64 MiB file; 10 parallel downloads; two requests on one
 * keep-alive connection; a client killed mid-body; stop() during a transfer.
 * Every test checks the health counters, so a silent fallback to the
 * streaming loop fails them.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileBodyStats } from '../../src/api/boot-files.js';
import { loadSendfileAddon } from '../../src/http/sendfile.js';
import { ROOT, startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { have } from '../helpers/netns.js';

const MB = 1024 * 1024;

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'latin1', maxBuffer: 64 * MB, timeout: timeoutMs }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}
const curl = (args: string[]) => run('curl', ['-sS', '--max-time', '60', ...args]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type FileStats = FileBodyStats;
async function stats(app: RunningAppliance): Promise<FileStats> {
  const r = await app.api('/api/v1/health', { token: null });
  return r.body.http_files as FileStats;
}
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe.skipIf(!have('curl') || !have('gcc'))('HTTP file bodies with sendfile(2)', () => {
  let app: RunningAppliance;
  let dir: string;
  let root: string;
  let big: Buffer;
  let small: Buffer;
  let url: string;

  beforeAll(async () => {
    // The addon is built by setup; build it here too (skipped when up to date) so the test runs it, not a fallback.
    await run('bash', [join(ROOT, 'scripts/build-native.sh')]);
    expect('addon' in loadSendfileAddon(), 'build/native/http_sendfile.node must load').toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'crowbar-sendfile-'));
    root = join(dir, 'tftp');
    mkdirSync(root, { recursive: true });
    big = Buffer.alloc(64 * MB + 4321);
    for (let i = 0; i + 4 <= big.length; i += 4) big.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
    writeFileSync(join(root, 'big.bin'), big);
    small = Buffer.from('x'.repeat(1000));
    writeFileSync(join(root, 'small.bin'), small);
    app = await startAppliance({ config: { services: { tftp: { enabled: false, root } } } });
    url = `${app.baseUrl}/boot/files/big.bin`;
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    if (app) rmSync(app.dataDir, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('was built and is on by default', async () => {
    expect((await stats(app)).sendfile).toBe('on');
    expect(app.output()).toContain('file bodies use sendfile');
  });

  it('sends a 64 MiB file intact with sendfile, and small files streamed', async () => {
    const before = await stats(app);
    const out = join(dir, 'full.out');
    const r = await curl(['-D', join(dir, 'h.txt'), '-o', out, '-w', '%{http_code}', url]);
    expect(r.out, r.err).toBe('200');
    expect(sha(readFileSync(out))).toBe(sha(big));
    expect(readFileSync(join(dir, 'h.txt'), 'utf8').toLowerCase()).toContain(`content-length: ${big.length}`);
    const s = await curl(['-w', '\n%{http_code}', `${app.baseUrl}/boot/files/small.bin`]);
    expect(s.out).toBe(`${small.toString()}\n200`);
    const after = await stats(app);
    expect(after.sendfile_transfers - before.sendfile_transfers).toBe(1);
    expect(after.sendfile_bytes - before.sendfile_bytes).toBe(big.length);
    expect(after.streamed_transfers - before.streamed_transfers).toBe(1);
    expect(after.sendfile_fallbacks).toBe(0);
  });

  it('sends ranges (206, suffix) with sendfile and refuses unsatisfiable ones (416)', async () => {
    const before = await stats(app);
    const a = join(dir, 'range.out');
    const r = await curl(['-r', '1000000-9999999', '-D', join(dir, 'rh.txt'), '-o', a, '-w', '%{http_code}', url]);
    expect(r.out).toBe('206');
    expect(readFileSync(a).equals(big.subarray(1_000_000, 10_000_000))).toBe(true);
    expect(readFileSync(join(dir, 'rh.txt'), 'utf8').toLowerCase()).toContain(`content-range: bytes 1000000-9999999/${big.length}`);
    const sfx = join(dir, 'suffix.out');
    const s = await curl(['-r', '-300000', '-D', '-', '-o', sfx, url]);
    expect(s.out).toMatch(/^HTTP\/1\.1 206/);
    expect(s.out.toLowerCase()).toContain(`content-range: bytes ${big.length - 300000}-${big.length - 1}/${big.length}`);
    expect(readFileSync(sfx).equals(big.subarray(big.length - 300000))).toBe(true);
    const u = await curl(['-r', `${big.length}-`, '-D', '-', '-o', '/dev/null', url]);
    expect(u.out).toMatch(/^HTTP\/1\.1 416/);
    expect(u.out.toLowerCase()).toContain(`content-range: bytes */${big.length}`);
    const after = await stats(app);
    expect(after.sendfile_transfers - before.sendfile_transfers).toBe(2);
    expect(after.sendfile_bytes - before.sendfile_bytes).toBe(9_000_000 + 300_000);
  });

  it('completes 10 parallel downloads intact', async () => {
    const before = await stats(app);
    const want = sha(big);
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => curl(['-o', join(dir, `par${i}.out`), '-w', '%{http_code}', url])));
    for (const [i, r] of rs.entries()) {
      expect(r.out, r.err).toBe('200');
      expect(sha(readFileSync(join(dir, `par${i}.out`)))).toBe(want);
      rmSync(join(dir, `par${i}.out`));
    }
    const after = await stats(app);
    expect(after.sendfile_transfers - before.sendfile_transfers).toBe(10);
    expect(after.sendfile_bytes - before.sendfile_bytes).toBe(10 * big.length);
  }, 120_000);

  it('keeps the connection alive for the next request', async () => {
    const before = await stats(app);
    const o1 = join(dir, 'ka1.out');
    const o2 = join(dir, 'ka2.out');
    // curl reuses one connection for both URLs: num_connects is 1, then 0.
    const w = '%{http_code} %{num_connects}\n';
    const r = await curl(['-w', w, '-o', o1, url, '--next', '-sS', '-w', w, '-r', '5-70004', '-o', o2, url]);
    expect(r.out, r.err).toBe('200 1\n206 0\n');
    expect(sha(readFileSync(o1))).toBe(sha(big));
    expect(readFileSync(o2).equals(big.subarray(5, 70005))).toBe(true);
    // and a raw socket: two requests written back to back, two complete responses on one connection
    const raw = await run('bash', [
      '-c',
      `exec 3<>/dev/tcp/127.0.0.1/${new URL(url).port}; printf 'GET /boot/files/big.bin HTTP/1.1\\r\\nHost: x\\r\\nRange: bytes=0-99999\\r\\n\\r\\nGET /boot/files/big.bin HTTP/1.1\\r\\nHost: x\\r\\nRange: bytes=100000-199999\\r\\nConnection: close\\r\\n\\r\\n' >&3; cat <&3 | wc -c`,
    ]);
    const headerBytes = Number(raw.out.trim()) - 200000;
    expect(headerBytes, raw.err).toBeGreaterThan(200);
    expect(headerBytes).toBeLessThan(1200);
    const after = await stats(app);
    expect(after.sendfile_transfers - before.sendfile_transfers, JSON.stringify({ before, after })).toBe(4);
  });

  it('survives a client killed mid-body: the transfer ends, its descriptors are closed', async () => {
    const pid = app.proc.pid!;
    const fds = fdCount(pid);
    const before = await stats(app);
    const c = spawn('curl', ['-sS', '--limit-rate', '2M', '-o', '/dev/null', url], { stdio: 'ignore' });
    await sleep(1000);
    c.kill('SIGKILL');
    let after = await stats(app);
    for (let i = 0; i < 50 && after.aborted === before.aborted; i++) {
      await sleep(100);
      after = await stats(app);
    }
    expect(after.aborted - before.aborted).toBe(1);
    expect(after.sendfile_bytes - before.sendfile_bytes).toBeGreaterThan(0);
    expect(after.sendfile_bytes - before.sendfile_bytes).toBeLessThan(big.length);
    const r = await curl(['-r', '0-99999', '-o', join(dir, 'after.out'), '-w', '%{http_code}', url]);
    expect(r.out).toBe('206');
    expect(readFileSync(join(dir, 'after.out')).equals(big.subarray(0, 100000))).toBe(true);
    for (let i = 0; i < 20 && fdCount(pid) > fds; i++) await sleep(100);
    expect(fdCount(pid)).toBeLessThanOrEqual(fds);
  });

  it('stops promptly with a download in flight', async () => {
    const c = spawn('curl', ['-sS', '--limit-rate', '1M', '-o', '/dev/null', url], { stdio: 'ignore' });
    const curlDone = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    await sleep(800);
    expect((await stats(app)).sendfile_active).toBe(1);
    const t0 = Date.now();
    const code = await app.stop();
    expect(Date.now() - t0).toBeLessThan(15_000); // hapi waits 2 s for connections, then destroys them
    expect(code).toBe(0);
    expect(await curlDone).not.toBe(0); // the body was cut short
  }, 30_000);
});

describe.skipIf(!have('curl'))('HTTP file bodies with services.http.sendfile: off', () => {
  it('streams every body', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crowbar-sendfile-off-'));
    const data = Buffer.alloc(3 * MB, 7);
    writeFileSync(join(dir, 'f.bin'), data);
    const app = await startAppliance({ config: { services: { tftp: { enabled: false, root: dir }, http: { sendfile: 'off' } } } });
    try {
      const out = join(dir, 'f.out');
      const r = await curl(['-o', out, '-w', '%{http_code}', `${app.baseUrl}/boot/files/f.bin`]);
      expect(r.out).toBe('200');
      expect(readFileSync(out).equals(data)).toBe(true);
      const s = await stats(app);
      expect(s.sendfile).toBe('off');
      expect(s.sendfile_transfers).toBe(0);
      expect(s.streamed_transfers).toBe(1);
      expect(s.streamed_bytes).toBe(data.length);
    } finally {
      await app.stop();
      rmSync(app.dataDir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
