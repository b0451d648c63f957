/**
 * Webhook signatures: `X-Crowbar-Signature: t=<unix seconds>,v1=<hex>` where
 * v1 = HMAC-SHA256(secret, "<t>.<raw body>"). Binding the timestamp into the
 * MAC lets receivers refuse replays older than a tolerance.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The signature header name. */
export const SIGNATURE_HEADER = 'x-crowbar-signature';

/** Header value signing `body` at `tSec`. */
export function signPayload(secret: string, body: string, tSec: number): string {
  const mac = createHmac('sha256', secret).update(`${tSec}.${body}`).digest('hex');
  return `t=${tSec},v1=${mac}`;
}

/**
 * Verify a signature header: true when a v1 MAC matches and the timestamp is
 * within `toleranceSec` of `nowSec`.
 */
export function verifySignature(secret: string, header: string, body: string, nowSec: number, toleranceSec = 300): boolean {
  const parts = new Map<string, string[]>();
  for (const kv of header.split(',')) {
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    const k = kv.slice(0, i).trim();
    parts.set(k, [...(parts.get(k) ?? []), kv.slice(i + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > toleranceSec) return false;
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return (parts.get('v1') ?? []).some((v) => {
    const got = Buffer.from(v);
    return got.length === want.length && timingSafeEqual(got, want);
  });
}
