/**
 * The sendfile addon (src/http/native/sendfile.c) under a bare node:http
 * server in this process: byte-exact bodies and keep-alive on one
 * connection, and its descriptor and handle lifetime when clients vanish
 * mid-body or the server destroys the connection (no descriptor left behind).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSendfileAddon, SendfileError, sendfileBody, type SendfileAddon } from '../../src/http/sendfile.js';
import { ROOT } from '../helpers/appliance.js';
import { have } from '../helpers/netns.js';

const SIZE = 8 * 1024 * 1024 + 17;
const fdCount = () => readdirSync('/proc/self/fd').length;

describe.skipIf(!have('gcc'))('sendfile addon', () => {
  let addon: SendfileAddon;
  let dir: string;
  let fileFd: number;
  let data: Buffer;
  let server: http.Server;
  let port: number;
  const results: Array<{ ok: boolean; sent: number; code?: string }> = [];
  let destroyAfterMs = -1;

  beforeAll(async () => {
    execFileSync('bash', [join(ROOT, 'scripts/build-native.sh')]);
    const r = loadSendfileAddon();
    if ('error' in r) throw new Error(r.error);
    addon = r.addon;
    dir = mkdtempSync(join(tmpdir(), 'crowbar-sf-unit-'));
    data = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i++) data[i] = (i * 31 + (i >>> 11)) & 0xff;
    writeFileSync(join(dir, 'f.bin'), data);
    fileFd = openSync(join(dir, 'f.bin'), 'r');
    server = http.createServer((req, res) => {
      const [start, end] = (req.url ?? '/0-0').slice(1).split('-').map(Number);
      res.writeHead(200, { 'content-length': String(end - start + 1) });
      if (destroyAfterMs >= 0) setTimeout(() => res.destroy(), destroyAfterMs);
      sendfileBody(addon, res, fileFd, start, end - start + 1).then(
        (sent) => results.push({ ok: true, sent }),
        (e: unknown) => {
          results.push({ ok: false, sent: e instanceof SendfileError ? e.sent : -1, code: e instanceof SendfileError ? e.code : String(e) });
          res.destroy();
        },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    closeSync(fileFd);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Two pipelined requests on one connection; returns everything the server sent until it closed. */
  function rawTwo(a: string, b: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      s.on('data', (c) => chunks.push(c));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.write(`GET /${a} HTTP/1.1\r\nHost: x\r\n\r\nGET /${b} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
  }

  it('sends exact byte ranges, and the connection serves the next request', async () => {
    results.length = 0;
    const out = await rawTwo(`0-${SIZE - 1}`, '1000-70999');
    const h1 = out.indexOf('\r\n\r\n') + 4;
    expect(out.subarray(0, h1).toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(out.subarray(h1, h1 + SIZE).equals(data)).toBe(true);
    const second = out.subarray(h1 + SIZE);
    const h2 = second.indexOf('\r\n\r\n') + 4;
    expect(second.subarray(0, h2).toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 70000\r\n/i);
    expect(second.subarray(h2).equals(data.subarray(1000, 71000))).toBe(true);
    expect(results).toEqual([
      { ok: true, sent: SIZE },
      { ok: true, sent: 70000 },
    ]);
  });

  it('ends quietly when clients vanish mid-body, and leaves no descriptor behind', async () => {
    results.length = 0;
    const before = fdCount();
    for (let i = 0; i < 50; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        let got = 0;
        s.on('data', (c) => {
          got += c.length;
          if (got > 100_000) {
            if (i % 2) s.resetAndDestroy();
            else s.destroy();
          }
        });
        s.on('error', () => {});
        s.on('close', () => resolve());
        s.write(`GET /0-${SIZE - 1} HTTP/1.1\r\nHost: x\r\n\r\n`);
      });
    }
    for (let i = 0; i < 50 && results.length < 50; i++) await new Promise((r) => setTimeout(r, 20));
    expect(results.length).toBe(50);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(r.sent).toBeLessThan(SIZE);
      expect(['EPIPE', 'ECONNRESET']).toContain(r.code);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(fdCount()).toBeLessThanOrEqual(before);
  });

  it('aborts when the server destroys the connection (stop)', async () => {
    results.length = 0;
    destroyAfterMs = 50;
    try {
      const s = net.connect(port, '127.0.0.1');
      s.pause(); // a client that does not read: sendfile waits for writability
      s.on('error', () => {});
      s.write(`GET /0-${SIZE - 1} HTTP/1.1\r\nHost: x\r\n\r\n`);
      for (let i = 0; i < 100 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      s.destroy();
    } finally {
      destroyAfterMs = -1;
    }
    expect(results.length).toBe(1);
    expect(results[0].ok).toBe(false);
    expect(results[0].sent).toBeGreaterThan(0);
    expect(results[0].sent).toBeLessThan(SIZE);
  });
});
