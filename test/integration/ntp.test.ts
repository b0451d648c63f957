/**
 * NTP against a running appliance with real clients: chronyd -Q (offset only,
 * never sets the clock) on loopback, ntpdig (needs port 123) in a network
 * namespace pair; modes 6/7 and short packets unanswered; a malformed corpus
 * and random bytes leave the server answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { nextPort, removeDataDir, startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { canUseNetns, createNetnsPair, have, type NetnsPair } from '../helpers/netns.js';

function request(mode = 3, version = 4, len = 48): Buffer {
  const b = Buffer.alloc(len);
  b[0] = (version << 3) | mode;
  randomBytes(8).copy(b, 40);
  return b;
}

/** Send packets, collect replies for `waitMs`. */
async function exchange(port: number, packets: Buffer[], waitMs = 400): Promise<Buffer[]> {
  const s = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  for (const p of packets) s.send(p, port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, waitMs));
  s.close();
  return got;
}

describe('ntp: loopback appliance', () => {
  let app: RunningAppliance;
  let port: number;
  beforeAll(async () => {
    port = nextPort();
    app = await startAppliance({ config: { services: { ntp: { enabled: true, bind: '127.0.0.1', port, rate_limit: 0 } } } });
  });
  afterAll(async () => {
    await app?.stop();
    if (app) removeDataDir(app.dataDir);
  });

  it.skipIf(!have('chronyd') || process.getuid?.() !== 0)('chronyd -Q accepts it with an offset under 5 ms', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-chrony-'));
    try {
      // -Q: measure and print the offset, never touch the clock; -f /dev/null: no system config.
      const r = spawnSync(
        'chronyd',
        ['-Q', '-f', '/dev/null', '-t', '20', '-u', 'root', `server 127.0.0.1 port ${port} iburst maxsamples 4`, `pidfile ${dir}/chronyd.pid`],
        { encoding: 'utf8', timeout: 30_000 },
      );
      const text = `${r.stdout}${r.stderr}`;
      const m = /System clock wrong by (-?[\d.]+) seconds/.exec(text);
      expect(m, text).not.toBeNull();
      expect(Math.abs(Number(m![1]))).toBeLessThan(0.005);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers mode 3 with mode 4, echoing the origin; modes 6/7 and short packets get nothing', async () => {
    const monlist = Buffer.alloc(48);
    monlist.set([0x17, 0x00, 0x03, 0x2a]); // mode 7 MON_GETLIST_1
    const readvar = Buffer.alloc(12);
    readvar.set([0x16, 0x02, 0x00, 0x01]); // mode 6 READVAR
    const silent = await exchange(port, [monlist, readvar, request(6), request(7), request(3, 4, 47), request(3, 4, 1), request(4), request(1)]);
    expect(silent).toHaveLength(0);
    const req = request(3, 3);
    const [r] = await exchange(port, [req]);
    expect(r.length).toBe(48);
    expect(r[0] & 7).toBe(4);
    expect((r[0] >> 3) & 7).toBe(3);
    expect(r.subarray(24, 32)).toEqual(req.subarray(40, 48));
    expect(r[1]).toBe(10);
    expect(r.subarray(12, 16).toString('ascii')).toBe('LOCL');
  });

  it('survives malformed packets and random bytes and keeps answering', async () => {
    const junk: Buffer[] = [];
    for (let i = 0; i < 3000; i++) junk.push(randomBytes(i % 200));
    for (let v = 0; v < 8; v++) for (let mode = 0; mode < 8; mode++) junk.push(request(mode, v, 48 + (mode * 7) % 30));
    await exchange(port, junk, 300);
    expect(app.proc.exitCode).toBeNull();
    const req = request();
    const replies = await exchange(port, [req]);
    expect(replies).toHaveLength(1);
    expect(replies[0].subarray(24, 32)).toEqual(req.subarray(40, 48));
  });
});

describe.skipIf(!canUseNetns() || !have('ntpdig'))('ntp: ntpdig and rate limiting in a namespace (port 123)', () => {
  let pair: NetnsPair;
  let app: RunningAppliance;
  beforeAll(async () => {
    pair = createNetnsPair();
    app = await startAppliance({
      netns: pair.srv,
      config: {
        admin_network: { interface: pair.srvIf, address: `${pair.srvIp}/24`, domain: 'crowbar.test' },
        services: { ntp: { enabled: true, bind: '0.0.0.0', port: 123 }, http: { bind: '127.0.0.1', port: nextPort() } },
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
    if (app) removeDataDir(app.dataDir);
    pair?.cleanup();
  });

  it('ntpdig accepts the server with an offset under 5 ms', () => {
    // Five single-shot samples; the median is the estimate (the box is shared, so
    // one sample can carry a few ms of scheduling delay; NTP clients filter too).
    const offsets: number[] = [];
    for (let i = 0; i < 5; i++) {
      const out = pair.exec(pair.cli, ['ntpdig', '-j', '-t', '2', pair.srvIp], { timeoutMs: 10_000 });
      const j = JSON.parse(out.trim().split('\n').pop()!) as { offset: number; stratum: number; leap: string };
      expect(j.stratum).toBe(10);
      expect(j.leap).toBe('no-leap');
      expect(Math.abs(j.offset)).toBeLessThan(0.05);
      offsets.push(Math.abs(j.offset));
    }
    offsets.sort((a, b) => a - b);
    expect(offsets[2]).toBeLessThan(0.005);
  });

  it('rate-limits a flooding source with KoD RATE (default 16/s, burst 32) and keeps serving others', () => {
    // 200 requests at once from the client namespace; count normal replies and kiss-o'-death.
    const script = `
      const s = require('dgram').createSocket('udp4'); let ok = 0, kod = 0;
      s.on('message', (m) => { if (m[1] === 0 && m.subarray(12, 16).toString() === 'RATE') kod++; else if ((m[0] & 7) === 4) ok++; });
      s.bind(0, () => {
        const b = Buffer.alloc(48); b[0] = 0x23;
        for (let i = 0; i < 200; i++) s.send(b, 123, '${pair.srvIp}');
        setTimeout(() => { console.log(JSON.stringify({ ok, kod })); s.close(); }, 1000);
      });`;
    const r = JSON.parse(pair.exec(pair.cli, ['node', '-e', script], { timeoutMs: 10_000 }).trim()) as { ok: number; kod: number };
    expect(r.ok).toBeGreaterThanOrEqual(20); // earlier ntpdig queries used a few tokens
    expect(r.ok).toBeLessThanOrEqual(40);
    expect(r.kod).toBe(1); // KoD itself is limited (one per 2 s per source)
    // Another source (the server namespace's own loopback) is still served.
    const out = pair.exec(pair.srv, ['ntpdig', '-j', '-t', '2', '127.0.0.1'], { timeoutMs: 10_000 });
    expect(JSON.parse(out.trim().split('\n').pop()!).stratum).toBe(10);
  });
});

describe.skipIf(!have('chronyd') || process.getuid?.() !== 0)('ntp: following chronyd as the upstream', () => {
  let app: RunningAppliance;
  let chrony: ChildProcess;
  let dir: string;
  let port: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cb-chrony-up-'));
    const upPort = nextPort();
    writeFileSync(
      join(dir, 'chrony.conf'),
      [`port ${upPort}`, 'bindaddress 127.0.0.1', 'allow 127.0.0.1', 'local stratum 8', 'cmdport 0', `pidfile ${dir}/chronyd.pid`, `driftfile ${dir}/drift`].join('\n') + '\n',
    );
    // -x: chronyd never touches the clock; it only serves as our upstream.
    chrony = spawn('chronyd', ['-d', '-x', '-u', 'root', '-f', join(dir, 'chrony.conf')], { stdio: 'ignore' });
    port = nextPort();
    app = await startAppliance({ config: { services: { ntp: { enabled: true, bind: '127.0.0.1', port, rate_limit: 0, upstreams: [`127.0.0.1:${upPort}`] } } } });
  });
  afterAll(async () => {
    await app?.stop();
    if (app) removeDataDir(app.dataDir);
    if (chrony && chrony.exitCode === null) {
      const exited = new Promise((res) => chrony.once('exit', res));
      chrony.kill('SIGTERM'); // by its own PID
      await Promise.race([exited, new Promise((res) => setTimeout(res, 5000))]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves stratum 9 with chronyd as reference and logs the offset', async () => {
    let r: Buffer | undefined;
    for (let i = 0; i < 40; i++) {
      [r] = await exchange(port, [request()], 250);
      if (r && r[1] === 9) break;
    }
    expect(r![1]).toBe(9);
    expect([...r!.subarray(12, 16)]).toEqual([127, 0, 0, 1]);
    expect(r![0] >> 6).toBe(0);
    // After the start-up burst (4 samples, 2 s apart) the min-delay sample is the estimate.
    await new Promise((res) => setTimeout(res, 7000));
    const lines = app.output().split('\n').filter((l) => l.includes('"msg":"ntp upstream"') && l.includes('"synchronised":true'));
    expect(lines.length).toBeGreaterThan(0);
    expect(Math.abs(JSON.parse(lines[lines.length - 1]).offset_ms)).toBeLessThan(5);
  });
});
