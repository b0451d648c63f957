/**
 * What the appliance's NTP server says about its own clock. Without an
 * upstream, the system clock is either declared the local reference by the
 * operator (`services.ntp.local_reference`: stratum 10, reference ID LOCL,
 * like chrony's `local stratum 10`), or reported as unsynchronised (leap 3,
 * stratum 16, reference ID INIT: RFC 5905 §7.3), so that clients do not
 * trust it.
 */
import type { Clock } from '../lib/clock.js';
import { Leap } from '../protocols/ntp/packet.js';
import type { NtpStatus, NtpTimeSource } from '../protocols/ntp/server.js';

/** Reference time granularity: the reference timestamp is the last 16-s boundary. */
const REF_STEP_NS = 16_000_000_000n;

/** Clock resolution we announce: 2^-20 s (about 1 µs, hrtime-based). */
export const NTP_PRECISION = -20;

/** System variables for a clock that is the local reference, or unsynchronised. */
export class LocalClockSource implements NtpTimeSource {
  private readonly locl = Buffer.from('LOCL', 'ascii');
  private readonly init = Buffer.from('INIT', 'ascii');

  constructor(
    private readonly clock: Clock,
    private readonly localReference: boolean,
    /** Dispersion we claim for the local clock, seconds. */
    private readonly dispersion = 0.01,
  ) {}

  /** Current system variables. */
  status(): NtpStatus {
    const now = this.clock.nowNs();
    if (!this.localReference)
      return { leap: Leap.UNSYNC, stratum: 16, precision: NTP_PRECISION, rootDelay: 0, rootDispersion: 16, refId: this.init, referenceNs: 0n };
    return {
      leap: Leap.NONE,
      stratum: 10,
      precision: NTP_PRECISION,
      rootDelay: 0,
      rootDispersion: this.dispersion,
      refId: this.locl,
      referenceNs: now - (now % REF_STEP_NS),
    };
  }
}
