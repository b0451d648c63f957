/**
 * GET/HEAD /boot/files/{path*} on a real appliance process (loopback), with
 * curl: full download, ranges, 416, HEAD, no auth, iPXE loaders provisioned,
 * path escapes refused.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { have } from '../helpers/netns.js';

let app: RunningAppliance;
let dir: string;
let root: string;
let data: Buffer;

function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '30', ...args], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!have('curl'))('HTTP boot files', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crowbar-boothttp-'));
    root = join(dir, 'tftp');
    mkdirSync(root, { recursive: true });
    data = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    writeFileSync(join(root, 'image.bin'), data);
    writeFileSync(join(root, 'empty.bin'), '');
    writeFileSync(join(dir, 'outside.txt'), 'secret outside\n');
    symlinkSync(join(dir, 'outside.txt'), join(root, 'leak'));
    app = await startAppliance({ config: { services: { tftp: { enabled: false, root } } } });
  });
  afterAll(async () => {
    await app?.stop();
    if (app) rmSync(app.dataDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a full file without authentication, with Content-Length and Accept-Ranges', async () => {
    const out = join(dir, 'full.out');
    const r = await curl(['-D', join(dir, 'h.txt'), '-o', out, '-w', '%{http_code}', `${app.baseUrl}/boot/files/image.bin`]);
    expect(r.out).toBe('200');
    expect(sha(readFileSync(out))).toBe(sha(data));
    const h = readFileSync(join(dir, 'h.txt'), 'utf8').toLowerCase();
    expect(h).toContain(`content-length: ${data.length}`);
    expect(h).toContain('accept-ranges: bytes');
    const e = await curl(['-o', join(dir, 'e.out'), '-w', '%{http_code} %{size_download}', `${app.baseUrl}/boot/files/empty.bin`]);
    expect(e.out).toBe('200 0');
  });

  it('honours single byte ranges (206) and refuses unsatisfiable ones (416)', async () => {
    const a = await curl(['-r', '1000-1999', '-w', '\n%{http_code}', `${app.baseUrl}/boot/files/image.bin`]);
    const [body, code] = [a.out.slice(0, a.out.lastIndexOf('\n')), a.out.slice(a.out.lastIndexOf('\n') + 1)];
    expect(code).toBe('206');
    expect(Buffer.from(body, 'latin1').equals(data.subarray(1000, 2000))).toBe(true);
    const s = await curl(['-r', '-100', '-D', '-', '-o', join(dir, 'suffix.out'), `${app.baseUrl}/boot/files/image.bin`]);
    expect(s.out.toLowerCase()).toContain(`content-range: bytes ${data.length - 100}-${data.length - 1}/${data.length}`);
    expect(readFileSync(join(dir, 'suffix.out')).equals(data.subarray(data.length - 100))).toBe(true);
    const big = await curl(['-r', `${data.length}-`, '-D', '-', '-o', '/dev/null', `${app.baseUrl}/boot/files/image.bin`]);
    expect(big.out).toMatch(/^HTTP\/1\.1 416/);
    expect(big.out.toLowerCase()).toContain(`content-range: bytes */${data.length}`);
    // resume a download the way iPXE / curl -C do
    const part = join(dir, 'resume.out');
    writeFileSync(part, data.subarray(0, 3_000_000));
    const c = await curl(['-C', '-', '-o', part, `${app.baseUrl}/boot/files/image.bin`]);
    expect(c.code, c.err).toBe(0);
    expect(sha(readFileSync(part))).toBe(sha(data));
  });

  it('answers HEAD with the length and no body', async () => {
    const r = await curl(['-I', `${app.baseUrl}/boot/files/image.bin`]);
    expect(r.out).toMatch(/^HTTP\/1\.1 200/);
    expect(r.out.toLowerCase()).toContain(`content-length: ${data.length}`);
  });

  it('provisions the iPXE loaders into the root and serves them', async () => {
    for (const n of ['undionly.kpxe', 'ipxe.efi', 'snponly.efi']) {
      const sys = join('/usr/lib/ipxe', n);
      let want: Buffer;
      try {
        want = readFileSync(sys);
      } catch {
        continue; // ipxe package not installed here
      }
      expect(statSync(join(root, n)).size).toBe(want.length);
      const out = join(dir, n);
      const r = await curl(['-o', out, '-w', '%{http_code}', `${app.baseUrl}/boot/files/${n}`]);
      expect(r.out).toBe('200');
      expect(sha(readFileSync(out))).toBe(sha(want));
    }
  });

  it('refuses path escapes and never leaks outside content', async () => {
    const paths = ['../outside.txt', '..%2foutside.txt', '%2e%2e/%2e%2e/etc/passwd', 'leak', '%2fetc%2fpasswd', 'image.bin%00', 'a%5c..%5c..%5coutside.txt', '..%252foutside.txt', '.%2e/outside.txt'];
    for (const p of paths) {
      const r = await curl(['--path-as-is', '-w', '\n%{http_code}', `${app.baseUrl}/boot/files/${p}`]);
      const code = Number(r.out.slice(r.out.lastIndexOf('\n') + 1));
      expect([400, 403, 404], `${p}: ${r.out}`).toContain(code);
      expect(r.out, p).not.toContain('secret outside');
      expect(r.out, p).not.toContain('root:');
    }
    const nf = await curl(['-w', '%{http_code}', '-o', '/dev/null', `${app.baseUrl}/boot/files/nope.bin`]);
    expect(nf.out).toBe('404');
    const leak = await curl(['-w', '%{http_code}', '-o', '/dev/null', `${app.baseUrl}/boot/files/leak`]);
    expect(leak.out).toBe('403');
  });
});
