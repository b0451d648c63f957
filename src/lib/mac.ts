/** MAC address helpers. The canonical form is lower-case colon-separated. */
import { CrowbarError } from './errors.js';

const MAC = /^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$/i;

/** True when `s` is a 48-bit MAC with ':' or '-' separators (or none). */
export function isMac(s: string): boolean {
  return MAC.test(s);
}

/** Canonical `aa:bb:cc:dd:ee:ff`; throws bad_request on bad input. */
export function normalizeMac(s: string): string {
  if (typeof s !== 'string' || !isMac(s)) throw new CrowbarError('bad_request', `not a MAC address: ${JSON.stringify(s)}`);
  const hex = s.replace(/[:-]/g, '').toLowerCase();
  return hex.match(/../g)!.join(':');
}

/** MAC from six bytes of a buffer. */
export function macFromBytes(b: Buffer, offset = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(b[offset + i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Six bytes of a canonical MAC. */
export function macToBytes(mac: string): Buffer {
  return Buffer.from(normalizeMac(mac).replace(/:/g, ''), 'hex');
}

/** Crowbar's default node name: `d` + MAC with dashes (d52-54-00-aa-bb-cc). */
export function crowbarNodeName(mac: string): string {
  return 'd' + normalizeMac(mac).replace(/:/g, '-');
}
