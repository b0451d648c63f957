/**
 * Following upstream NTP servers (configured by the ntp barclamp through
 * `services.ntp.upstreams`): each upstream is polled in client mode (a burst
 * of 4 at start, then every `pollSeconds`), the best of its last 8 samples is
 * the one with the lowest delay (RFC 5905 §10 clock filter, simplified), and
 * the upstream with the lowest stratum, then the lowest root distance, is the
 * system peer. The appliance does not discipline the host clock (the host's
 * own chrony/timesyncd does); it serves the system clock and tells clients
 * what it knows:
 * - synchronised to an upstream and |offset| <= 128 ms (RFC 5905 step
 *   threshold): stratum = upstream + 1, reference ID = upstream IPv4 address,
 *   reference time = the sample's time, root delay/dispersion accumulated
 *   (the measured offset is added to the dispersion, so the error bound is
 *   honest);
 * - an upstream answers but our clock is further off than 128 ms: leap 3
 *   (clients must not follow a clock known to be wrong);
 * - no usable upstream sample for 4 poll intervals: the local policy
 *   (LOCL stratum 10 when local_reference, otherwise leap 3).
 * The current offset is reported through `report()` and logged on change.
 */
import type { Clock } from '../lib/clock.js';
import { ipToInt } from '../lib/ip.js';
import type { Logger } from '../lib/logger.js';
import { queryServer, type NtpQueryResult, type NtpSample, type NtpUpstream } from '../protocols/ntp/client.js';
import { Leap } from '../protocols/ntp/packet.js';
import type { NtpStatus, NtpTimeSource } from '../protocols/ntp/server.js';
import { NTP_PRECISION } from './ntp-clock.js';

/** RFC 5905 §11.1 step threshold: beyond it our served time is known wrong. */
const STEP_THRESHOLD = 0.128;
/** RFC 5905 PHI: frequency tolerance, 15 ppm. */
const PHI = 15e-6;

/** What the follower knows, for the health route and logs. */
export interface NtpFollowReport {
  synchronised: boolean;
  upstream: string | null;
  /** Server minus our clock, seconds. */
  offset: number | null;
  delay: number | null;
  stratum: number | null;
  lastError: string | null;
}

/** Query function (injected in tests). */
export type QueryFn = (up: NtpUpstream) => Promise<NtpQueryResult>;

/** Polls upstreams and turns their samples into our system variables. */
export class UpstreamFollower implements NtpTimeSource {
  private readonly samples = new Map<string, NtpSample[]>();
  private timer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;
  private lastLogged = '';
  private readonly query: QueryFn;

  constructor(
    private readonly upstreams: readonly NtpUpstream[],
    private readonly fallback: NtpTimeSource,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly pollSeconds = 64,
    query?: QueryFn,
  ) {
    this.query = query ?? ((up) => queryServer(up, clock));
  }

  private key(up: NtpUpstream): string {
    return `${up.address}:${up.port}`;
  }

  /** Poll every upstream once now. */
  async pollOnce(): Promise<void> {
    await Promise.all(
      this.upstreams.map(async (up) => {
        const r = await this.query(up);
        if (!r.ok) {
          this.lastError = `${this.key(up)}: ${r.reason}${r.kiss ? ` (${r.kiss})` : ''}`;
          return;
        }
        const l = this.samples.get(this.key(up)) ?? [];
        l.push(r.sample);
        while (l.length > 8) l.shift();
        this.samples.set(this.key(up), l);
      }),
    );
    this.logIfChanged();
  }

  /** Start polling: a burst of 4 two seconds apart, then every pollSeconds. */
  start(): void {
    if (this.upstreams.length === 0 || this.timer) return;
    let burst = 4;
    const tick = () => {
      void this.pollOnce().finally(() => {
        if (!this.timer) return;
        burst--;
        this.timer = setTimeout(tick, burst > 0 ? 2000 : this.pollSeconds * 1000);
        this.timer.unref();
      });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref();
  }

  /** Stop polling. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The system peer's best recent sample, or null. */
  private best(): NtpSample | null {
    const now = this.clock.nowNs();
    const maxAge = BigInt(Math.round(4 * this.pollSeconds * 1e9));
    let pick: NtpSample | null = null;
    let pickDist = Infinity;
    for (const l of this.samples.values()) {
      const fresh = l.filter((s) => now - s.at <= maxAge);
      if (fresh.length === 0) continue;
      const s = fresh.reduce((a, b) => (b.delay < a.delay ? b : a));
      const dist = s.rootDelay + s.delay / 2 + s.rootDispersion;
      if (!pick || s.stratum < pick.stratum || (s.stratum === pick.stratum && dist < pickDist)) {
        pick = s;
        pickDist = dist;
      }
    }
    return pick;
  }

  /** Current offset and peer. */
  report(): NtpFollowReport {
    const s = this.best();
    return {
      synchronised: !!s && Math.abs(s.offset) <= STEP_THRESHOLD,
      upstream: s ? this.key(s.upstream) : null,
      offset: s?.offset ?? null,
      delay: s?.delay ?? null,
      stratum: s?.stratum ?? null,
      lastError: this.lastError,
    };
  }

  private logIfChanged(): void {
    const r = this.report();
    const sig = `${r.synchronised}:${r.upstream}:${r.offset === null ? '' : Math.round(r.offset * 1000)}`;
    if (sig === this.lastLogged) return;
    this.lastLogged = sig;
    this.log.info('ntp upstream', { ...r, offset_ms: r.offset === null ? null : r.offset * 1000 });
  }

  /** System variables (see module comment). */
  status(): NtpStatus {
    const s = this.best();
    if (!s) return this.fallback.status();
    if (Math.abs(s.offset) > STEP_THRESHOLD) {
      return { leap: Leap.UNSYNC, stratum: 16, precision: NTP_PRECISION, rootDelay: 0, rootDispersion: 16, refId: Buffer.from('STEP', 'ascii'), referenceNs: 0n };
    }
    const age = Number(this.clock.nowNs() - s.at) / 1e9;
    const refId = Buffer.alloc(4);
    refId.writeUInt32BE(ipToInt(s.upstream.address), 0);
    return {
      leap: s.leap,
      stratum: Math.min(15, s.stratum + 1),
      precision: NTP_PRECISION,
      rootDelay: s.rootDelay + s.delay,
      rootDispersion: s.rootDispersion + Math.abs(s.offset) + s.delay / 2 + PHI * age,
      refId,
      referenceNs: s.at,
    };
  }
}
