/**
 * NTP client mode (RFC 5905 §8, §9.1 packet checks): one request to one
 * server, one validated sample back. The request's transmit timestamp is 64
 * random bits (the server must echo it as origin, which defeats off-path
 * spoofing, as chrony does); the real send time T1 stays local. The reply is
 * accepted only from the address/port asked, as mode 4 with the same version,
 * origin equal to what we sent, a non-zero transmit time and a synchronised
 * stratum 1-15; a kiss-o'-death (stratum 0) is reported as such.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { literalLookup } from '../../net/literal-lookup.js';
import { decodePacket, Leap, NTP_HEADER, NtpMode, ntpToNs } from './packet.js';

/** An upstream server. */
export interface NtpUpstream {
  address: string;
  port: number;
}

/** A clock sample (RFC 5905 §8: offset theta and delay delta, in seconds). */
export interface NtpSample {
  upstream: NtpUpstream;
  /** Server's clock minus ours, seconds (positive: our clock is behind). */
  offset: number;
  delay: number;
  stratum: number;
  leap: number;
  /** Server's root delay / dispersion, seconds. */
  rootDelay: number;
  rootDispersion: number;
  /** When the sample was taken (our clock, Unix ns). */
  at: bigint;
}

/** Outcome of one query. */
export type NtpQueryResult = { ok: true; sample: NtpSample } | { ok: false; reason: string; kiss?: string };

/** Seconds from an NTP short-format value. */
function short(v: number): number {
  return v / 65536;
}

/** Ask `up` once; never rejects. */
export function queryServer(up: NtpUpstream, clock: Clock, timeoutMs = 2000, version = 4): Promise<NtpQueryResult> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket({ type: 'udp4', lookup: literalLookup });
    const req = Buffer.alloc(NTP_HEADER);
    req[0] = (version << 3) | NtpMode.CLIENT;
    req[2] = 6; // poll 64 s
    req.writeInt8(-20, 3);
    const cookie = randomBytes(8);
    cookie.copy(req, 40);
    let t1 = 0n;
    let done = false;
    const finish = (r: NtpQueryResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout' }), timeoutMs);
    sock.on('error', (e) => finish({ ok: false, reason: e.message }));
    sock.on('message', (msg, rinfo) => {
      const t4 = clock.nowNs(); // destination timestamp first
      if (rinfo.address !== up.address || rinfo.port !== up.port || msg.length < NTP_HEADER) return;
      const p = decodePacket(msg);
      if (p.mode !== NtpMode.SERVER || p.version !== version) return;
      if (!msg.subarray(24, 32).equals(cookie)) return; // bogus: not our request (RFC 5905 §8)
      if (p.stratum === 0) return finish({ ok: false, reason: 'kiss-o-death', kiss: p.refId.toString('latin1') });
      if (p.leap === Leap.UNSYNC || p.stratum > 15) return finish({ ok: false, reason: 'server unsynchronised' });
      if (p.transmit === 0n) return finish({ ok: false, reason: 'zero transmit timestamp' });
      const t2 = ntpToNs(p.receive);
      const t3 = ntpToNs(p.transmit);
      const offset = Number(t2 - t1 + (t3 - t4)) / 2e9;
      const delay = Math.max(0, Number(t4 - t1 - (t3 - t2)) / 1e9);
      finish({
        ok: true,
        sample: { upstream: up, offset, delay, stratum: p.stratum, leap: p.leap, rootDelay: short(p.rootDelay), rootDispersion: short(p.rootDispersion), at: t4 },
      });
    });
    sock.bind(0, () => {
      if (done) return;
      t1 = clock.nowNs();
      sock.send(req, up.port, up.address, (err) => err && finish({ ok: false, reason: err.message }));
    });
  });
}
