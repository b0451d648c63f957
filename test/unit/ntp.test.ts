import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { decodePacket, encodePacket, nsToNtp, ntpToNs, toShort, NTP_UNIX_OFFSET } from '../../src/protocols/ntp/packet.js';
import { buildReply, NtpServer } from '../../src/protocols/ntp/server.js';
import { LocalClockSource } from '../../src/services/ntp-clock.js';
import { ManualClock } from '../../src/lib/clock.js';
import { nullLogger } from '../../src/lib/logger.js';
import { RateLimiter } from '../../src/lib/rate.js';

function request(mode = 3, version = 4, len = 48): Buffer {
  const b = Buffer.alloc(len);
  b[0] = (version << 3) | mode;
  b[2] = 6;
  b[3] = 0xec;
  randomBytes(8).copy(b, 40); // client's transmit timestamp
  return b;
}

describe('ntp timestamps (RFC 5905 §6)', () => {
  it('converts the Unix epoch and fractions', () => {
    expect(nsToNtp(0n)).toBe(NTP_UNIX_OFFSET << 32n);
    expect(nsToNtp(500_000_000n) & 0xffffffffn).toBe(0x80000000n);
    // 2026-11-25T00:00:00.25Z
    const ns = 1_795_564_800_250_000_000n;
    const t = nsToNtp(ns);
    expect(t >> 32n).toBe(1_795_564_800n + NTP_UNIX_OFFSET);
    expect(Number(ntpToNs(t) - ns)).toBeLessThan(2);
    // sub-microsecond resolution survives
    expect(nsToNtp(ns + 1000n) - t).toBeGreaterThan(4000n);
    expect(toShort(1)).toBe(0x10000);
    expect(toShort(0.01)).toBe(655);
  });

  it('decodes a captured ntpdig request and round-trips the header', () => {
    // ntpdig (ntpsec 1.2.2) request: LI 0, VN 4, mode 3, everything zero but the transmit timestamp.
    const cap = Buffer.from('230000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000', 'hex');
    cap.writeBigUInt64BE(0xeb0e3c1b12345678n, 40);
    const p = decodePacket(cap);
    expect(p.mode).toBe(3);
    expect(p.version).toBe(4);
    expect(p.transmit).toBe(0xeb0e3c1b12345678n);
    expect(encodePacket(p)).toEqual(cap);
    expect(() => decodePacket(Buffer.alloc(47))).toThrow(/shorter/);
  });
});

describe('ntp server replies (RFC 5905 §8-9)', () => {
  const clock = new ManualClock(1_795_564_800_000);
  const local = new LocalClockSource(clock, true);

  it('mode 4, same version, origin byte for byte, receive first, transmit last', () => {
    for (const v of [3, 4]) {
      const req = request(3, v);
      let t = 1_795_564_800_000_000_000n;
      const r = buildReply(req, t, local.status(), () => (t += 1_234n));
      const p = decodePacket(r);
      expect(r.length).toBe(48);
      expect(p.mode).toBe(4);
      expect(p.version).toBe(v);
      expect(r.subarray(24, 32)).toEqual(req.subarray(40, 48));
      expect(p.receive).toBe(nsToNtp(1_795_564_800_000_000_000n));
      expect(p.transmit).toBe(nsToNtp(1_795_564_800_000_001_234n));
      expect(p.transmit > p.receive).toBe(true);
      expect(p.stratum).toBe(10);
      expect(p.leap).toBe(0);
      expect(p.refId.toString('ascii')).toBe('LOCL');
      expect(p.precision).toBe(-20);
      expect(p.poll).toBe(6);
      expect(p.reference <= p.receive && p.reference > 0n).toBe(true);
    }
  });

  it('says leap 3 / stratum 16 when not the local reference', () => {
    const p = decodePacket(buildReply(request(), 1n, new LocalClockSource(clock, false).status(), () => 2n));
    expect(p.leap).toBe(3);
    expect(p.stratum).toBe(16);
    expect(p.refId.toString('ascii')).toBe('INIT');
  });

  it('never answers modes 6/7 or others, nor short packets; never longer than the request', () => {
    const server = new NtpServer({ bind: '127.0.0.1', port: 0, source: local, clock, log: nullLogger });
    for (const mode of [0, 1, 2, 4, 5, 6, 7]) expect(server.handle(request(mode), '10.0.0.1', 1n)).toBeNull();
    expect(server.handle(request(3, 4, 47), '10.0.0.1', 1n)).toBeNull();
    expect(server.handle(request(3, 0), '10.0.0.1', 1n)).toBeNull();
    expect(server.handle(request(3, 5), '10.0.0.1', 1n)).toBeNull();
    const withExt = request(3, 4, 48 + 20); // MAC / extension: ignored, reply is 48
    expect(server.handle(withExt, '10.0.0.1', 1n)!.length).toBe(48);
    expect(server.stats.dropped).toBe(10);
  });

  it('sends KoD RATE over the limit, then silence (RFC 5905 §7.4)', () => {
    const server = new NtpServer({
      bind: '127.0.0.1',
      port: 0,
      source: local,
      clock,
      log: nullLogger,
      limiter: new RateLimiter(1, 2),
      kodLimiter: new RateLimiter(0.5, 1),
    });
    const replies = Array.from({ length: 6 }, () => server.handle(request(), '10.0.0.2', 1n));
    const normal = replies.filter((r) => r && r[1] !== 0);
    const kod = replies.filter((r) => r && r[1] === 0);
    expect(normal.length).toBe(2);
    expect(kod.length).toBe(1);
    const k = decodePacket(kod[0]!);
    expect(k.refId.toString('ascii')).toBe('RATE');
    expect(k.leap).toBe(3);
    expect(replies.filter((r) => r === null).length).toBe(3);
    // another source is unaffected
    expect(server.handle(request(), '10.0.0.3', 1n)![1]).toBe(10);
  });
});

describe('writeNtpTimestamp', () => {
  it('matches nsToNtp', async () => {
    const { writeNtpTimestamp } = await import('../../src/protocols/ntp/packet.js');
    const b = Buffer.alloc(8);
    for (const ns of [0n, 1n, 999_999_999n, 1_795_564_800_250_000_000n, 1_795_564_800_999_999_999n, 2_085_978_495_999_999_999n]) {
      writeNtpTimestamp(b, 0, ns);
      const got = b.readBigUInt64BE(0);
      const want = nsToNtp(ns);
      expect(got >> 32n).toBe(want >> 32n);
      expect(Number((got & 0xffffffffn) - (want & 0xffffffffn))).toBeLessThanOrEqual(1);
      expect(Number((want & 0xffffffffn) - (got & 0xffffffffn))).toBeLessThanOrEqual(1);
    }
  });
});
