import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { queryServer } from '../../src/protocols/ntp/client.js';
import { NtpServer } from '../../src/protocols/ntp/server.js';
import { LocalClockSource } from '../../src/services/ntp-clock.js';
import { UpstreamFollower } from '../../src/services/ntp-follow.js';
import { systemClock, type Clock } from '../../src/lib/clock.js';
import { nullLogger } from '../../src/lib/logger.js';
import { RateLimiter } from '../../src/lib/rate.js';

// Client mode against our own server over loopback sockets (chronyd as a real
// upstream is in test/integration/ntp.test.ts).
describe('ntp client mode and upstream following', () => {
  const upstream = new NtpServer({ bind: '127.0.0.1', port: 0, source: new LocalClockSource(systemClock, true), clock: systemClock, log: nullLogger });
  const kissing = new NtpServer({
    bind: '127.0.0.1',
    port: 0,
    source: new LocalClockSource(systemClock, true),
    clock: systemClock,
    log: nullLogger,
    limiter: new RateLimiter(0.0001, 0),
    kodLimiter: new RateLimiter(100, 100),
  });
  beforeAll(async () => {
    await upstream.start();
    await kissing.start();
  });
  afterAll(async () => {
    await upstream.stop();
    await kissing.stop();
  });
  const up = () => ({ address: '127.0.0.1', port: upstream.port });

  it('takes a validated sample (RFC 5905 §8 offset and delay)', async () => {
    const r = await queryServer(up(), systemClock);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.sample.stratum).toBe(10);
    // Client and server read the same clock, so the true offset is 0 and the
    // measured one is bounded by half the round-trip delay (RFC 5905 §8).
    expect(r.sample.delay).toBeGreaterThanOrEqual(0);
    expect(Math.abs(r.sample.offset)).toBeLessThanOrEqual(r.sample.delay / 2 + 1e-6);
    expect(r.sample.delay).toBeLessThan(0.05);
  });

  it('reports kiss-o-death, timeouts, and ignores replies that do not echo our transmit', async () => {
    const k = await queryServer({ address: '127.0.0.1', port: kissing.port }, systemClock);
    expect(k).toEqual({ ok: false, reason: 'kiss-o-death', kiss: 'RATE' });
    // A spoofer answering with a made-up origin is ignored (then the query times out).
    const fake = dgram.createSocket('udp4');
    fake.on('message', (m, r) => {
      const b = Buffer.alloc(48);
      b[0] = 0x24;
      b[1] = 1;
      b.writeBigUInt64BE(0x1234n, 24);
      b.writeBigUInt64BE(0xeb00000000000000n, 40);
      fake.send(b, r.port, r.address);
    });
    await new Promise<void>((r) => fake.bind(0, '127.0.0.1', () => r()));
    const t = await queryServer({ address: '127.0.0.1', port: fake.address().port }, systemClock, 300);
    expect(t).toEqual({ ok: false, reason: 'timeout' });
    fake.close();
  });

  it('follows: stratum + 1, upstream address as reference ID, offset reported', async () => {
    const local = new LocalClockSource(systemClock, true);
    const f = new UpstreamFollower([up()], local, systemClock, nullLogger, 64);
    expect(f.status().stratum).toBe(10); // nothing yet: the local policy
    await f.pollOnce();
    const st = f.status();
    expect(st.stratum).toBe(11);
    expect(st.leap).toBe(0);
    expect([...st.refId]).toEqual([127, 0, 0, 1]);
    expect(st.rootDispersion).toBeGreaterThanOrEqual(0.01);
    const rep = f.report();
    expect(rep.synchronised).toBe(true);
    expect(Math.abs(rep.offset!)).toBeLessThanOrEqual(rep.delay! / 2 + 1e-6);
    expect(rep.delay!).toBeLessThan(0.05);
    expect(rep.upstream).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('says leap 3 when our clock is known to be off by more than 128 ms', async () => {
    const skewed: Clock = { now: () => systemClock.now() + 1000, nowNs: () => systemClock.nowNs() + 1_000_000_000n };
    const f = new UpstreamFollower([up()], new LocalClockSource(skewed, true), skewed, nullLogger, 64);
    await f.pollOnce();
    expect(f.report().offset!).toBeLessThan(-0.99);
    expect(f.report().synchronised).toBe(false);
    expect(f.status().leap).toBe(3);
  });

  it('falls back to the local policy when the upstream is silent', async () => {
    const f = new UpstreamFollower([{ address: '127.0.0.1', port: 9 }], new LocalClockSource(systemClock, false), systemClock, nullLogger, 64, (u) =>
      queryServer(u, systemClock, 200),
    );
    await f.pollOnce();
    expect(f.status().leap).toBe(3);
    expect(f.report().lastError).toMatch(/127\.0\.0\.1:9/);
  });
});
