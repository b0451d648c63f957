/** Small helpers to validate request bodies with messages naming the field. */
import { CrowbarError } from '../lib/errors.js';

/** The payload as a plain object, or a 400. */
export function bodyObject(payload: unknown): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new CrowbarError('bad_request', 'request body must be a JSON object');
  return payload as Record<string, unknown>;
}

/** A required string field. */
export function reqString(o: Record<string, unknown>, key: string, max = 256): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) throw new CrowbarError('bad_request', `body.${key}: required string`);
  if (v.length > max) throw new CrowbarError('bad_request', `body.${key}: longer than ${max} characters`);
  return v;
}

/** An optional string field. */
export function optString(o: Record<string, unknown>, key: string, max = 4096): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new CrowbarError('bad_request', `body.${key}: must be a string`);
  if (v.length > max) throw new CrowbarError('bad_request', `body.${key}: longer than ${max} characters`);
  return v;
}

/** Throws 400 if the object has keys outside `allowed`. */
export function onlyKeys(o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new CrowbarError('bad_request', `body.${k}: unknown field (allowed: ${allowed.join(', ')})`);
}
