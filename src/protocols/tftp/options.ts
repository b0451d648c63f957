/**
 * Option negotiation for read requests (pure): RFC 2347 (framework),
 * RFC 2348 (blksize), RFC 2349 (timeout, tsize), RFC 7440 (windowsize).
 * Invalid values never fail the request: the option is left out of the OACK
 * and the default applies (RFC 2347 section 3: the server omits options it
 * does not accept), which also tolerates atftp's `tsize enable` style.
 */

/** Server-side limits for negotiation. */
export interface NegotiationLimits {
  /** Largest blksize granted (RFC 2348 allows up to 65464). */
  maxBlksize: number;
  /** Largest windowsize granted (RFC 7440 allows up to 65535). */
  maxWindowsize: number;
}

/** Outcome of negotiation. */
export interface Negotiated {
  /** Block size in bytes (512 unless negotiated, RFC 1350 section 2). */
  blksize: number;
  /** Blocks per window (1 = RFC 1350 lock-step). */
  windowsize: number;
  /** Retransmission timeout requested by the client in seconds, or null. */
  timeoutSec: number | null;
  /** Options to acknowledge in an OACK, in request order; empty = no OACK (RFC 2347 section 3). */
  oack: Array<[string, string]>;
  /** Options that were ignored, with the reason (for logs). */
  ignored: Array<{ name: string; value: string; reason: string }>;
}

/** RFC 2348 section 2: blksize range. */
export const BLKSIZE_MIN = 8;
/** RFC 2348 section 2: largest blksize. */
export const BLKSIZE_MAX = 65464;
/** RFC 7440 section 3: windowsize range 1..65535. */
export const WINDOWSIZE_MAX = 65535;

const DIGITS = /^[0-9]{1,10}$/;

/**
 * Negotiate the options of a read request. `fileSize` is the transfer size
 * in bytes when known (octet mode), null when not (netascii).
 */
export function negotiate(options: ReadonlyArray<readonly [string, string]>, fileSize: number | null, limits: NegotiationLimits): Negotiated {
  const out: Negotiated = { blksize: 512, windowsize: 1, timeoutSec: null, oack: [], ignored: [] };
  const seen = new Set<string>();
  const ignore = (name: string, value: string, reason: string) => out.ignored.push({ name, value, reason });
  for (const [name, value] of options) {
    if (seen.has(name)) {
      ignore(name, value, 'duplicate option');
      continue;
    }
    seen.add(name);
    const n = DIGITS.test(value) ? Number(value) : NaN;
    switch (name) {
      case 'blksize':
        // RFC 2348 section 2: valid values 8..65464; the server may answer a
        // smaller value than requested (we cap by the configured maximum).
        if (!Number.isFinite(n) || n < BLKSIZE_MIN) ignore(name, value, 'blksize must be a number >= 8');
        else {
          out.blksize = Math.min(n, BLKSIZE_MAX, limits.maxBlksize);
          out.oack.push([name, String(out.blksize)]);
        }
        break;
      case 'timeout':
        // RFC 2349 section 2 (timeout): 1..255 seconds; the server must echo it unchanged.
        if (!Number.isFinite(n) || n < 1 || n > 255) ignore(name, value, 'timeout must be 1..255');
        else {
          out.timeoutSec = n;
          out.oack.push([name, String(n)]);
        }
        break;
      case 'tsize':
        // RFC 2349 section 3 (tsize): in a RRQ the client sends 0 and the
        // server answers with the file size. Non-numeric values are ignored.
        if (!Number.isFinite(n)) ignore(name, value, 'tsize must be a number');
        else if (fileSize === null) ignore(name, value, 'size unknown (netascii)');
        else out.oack.push([name, String(fileSize)]);
        break;
      case 'windowsize':
        // RFC 7440 section 3: 1..65535; the server may answer a smaller value.
        if (!Number.isFinite(n) || n < 1) ignore(name, value, 'windowsize must be a number >= 1');
        else {
          out.windowsize = Math.min(n, WINDOWSIZE_MAX, limits.maxWindowsize);
          out.oack.push([name, String(out.windowsize)]);
        }
        break;
      default:
        // RFC 2347 section 3: unsupported options are simply not acknowledged.
        ignore(name, value, 'unsupported option');
    }
  }
  return out;
}
