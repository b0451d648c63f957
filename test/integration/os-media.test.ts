/**
 * OS media on a real appliance process (loopback): import of a
 * self-describing directory through the API (admin only), listing, serving
 * over /os/ with curl (full + range, no auth, escapes refused), checksum and
 * manifest errors as 400s that leave the previous medium intact, removal.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { have } from '../helpers/netns.js';

let app: RunningAppliance;
let dir: string;
let img: Buffer;

function curl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '30', ...args], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 }, (e, out) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out }));
  });
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function mediumDir(name: string, manifest: Record<string, unknown>): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'rootfs.tar.zst'), img);
  writeFileSync(join(d, 'crowbar-os.json'), JSON.stringify(manifest));
  return d;
}

describe.skipIf(!have('curl'))('OS media import and serving', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crowbar-os-media-'));
    img = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
    writeFileSync(join(dir, 'outside.txt'), 'secret outside\n');
    app = await startAppliance({ config: { services: { tftp: { enabled: false } } } });
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports an image medium (admin only), lists it and serves it over /os/ with ranges and without auth', async () => {
    const src = mediumDir('good', { name: 'debian-12-amd64-image', family: 'debian', version: '12', arch: 'amd64', method: 'image', image: 'rootfs.tar.zst', sha256: sha(img) });
    symlinkSync(join(dir, 'outside.txt'), join(src, 'leak'));
    expect((await app.api('/api/v1/os', { method: 'POST', body: { path: src }, token: null })).status).toBe(401);
    const r = await app.api('/api/v1/os', { method: 'POST', body: { path: src } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ name: 'debian-12-amd64-image', method: 'image', image: 'rootfs.tar.zst', url: `${app.baseUrl}/os/debian-12-amd64-image/` });
    expect(r.body.meta.size).toBe(img.length);
    // same file system: the image is hard-linked into the data directory, not copied
    expect(statSync(join(app.dataDir, 'os', 'debian-12-amd64-image', 'rootfs.tar.zst')).ino).toBe(statSync(join(src, 'rootfs.tar.zst')).ino);
    const list = await app.api('/api/v1/os');
    expect(list.body.os.map((m: { name: string }) => m.name)).toEqual(['debian-12-amd64-image']);
    const full = await curl([`${app.baseUrl}/os/debian-12-amd64-image/rootfs.tar.zst`]);
    expect(full.code).toBe(0);
    expect(sha(Buffer.from(full.out, 'latin1'))).toBe(sha(img));
    const part = await curl(['-r', '100-199', `${app.baseUrl}/os/debian-12-amd64-image/rootfs.tar.zst`]);
    expect(Buffer.from(part.out, 'latin1').equals(img.subarray(100, 200))).toBe(true);
    for (const bad of ['leak', '../good/rootfs.tar.zst', 'nope.bin']) {
      const res = await curl(['-o', '/dev/null', '-w', '%{http_code}', `${app.baseUrl}/os/debian-12-amd64-image/${bad}`]);
      expect(['403', '404']).toContain(res.out);
    }
    expect((await curl(['-o', '/dev/null', '-w', '%{http_code}', `${app.baseUrl}/os/unknown-os/rootfs.tar.zst`])).out).toBe('404');
  });

  it('refuses bad manifests and checksum mismatches with 400 and keeps the imported medium', async () => {
    const wrongSum = mediumDir('bad-sum', { name: 'debian-12-amd64-image', family: 'debian', version: '12', arch: 'amd64', method: 'image', image: 'rootfs.tar.zst', sha256: '0'.repeat(64) });
    const r1 = await app.api('/api/v1/os', { method: 'POST', body: { path: wrongSum } });
    expect(r1.status).toBe(400);
    expect(r1.body.message).toMatch(/does not match/);
    const escape = mediumDir('escape', { name: 'x-image', family: 'debian', version: '12', arch: 'amd64', method: 'image', image: '../outside.txt' });
    expect((await app.api('/api/v1/os', { method: 'POST', body: { path: escape } })).body.message).toMatch(/relative path inside/);
    expect((await app.api('/api/v1/os', { method: 'POST', body: { path: join(dir, 'missing') } })).status).toBe(400);
    expect((await app.api('/api/v1/os', { method: 'POST', body: { path: 'relative/dir' } })).status).toBe(400);
    expect((await app.api('/api/v1/os', { method: 'POST', body: { path: dir, extra: 1 } })).status).toBe(400);
    const full = await curl([`${app.baseUrl}/os/debian-12-amd64-image/rootfs.tar.zst`]);
    expect(sha(Buffer.from(full.out, 'latin1'))).toBe(sha(img));
  });

  it('removes a medium and its tree', async () => {
    expect((await app.api('/api/v1/os/debian-12-amd64-image', { method: 'DELETE' })).status).toBe(200);
    expect((await app.api('/api/v1/os/debian-12-amd64-image')).status).toBe(404);
    expect((await curl(['-o', '/dev/null', '-w', '%{http_code}', `${app.baseUrl}/os/debian-12-amd64-image/rootfs.tar.zst`])).out).toBe('404');
    expect((await app.api('/api/v1/os/debian-12-amd64-image', { method: 'DELETE' })).status).toBe(404);
  });
});
