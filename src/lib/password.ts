/**
 * Password hashing with scrypt (node:crypto). The stored form is
 * `scrypt$N$r$p$<salt b64>$<hash b64>` so parameters can be raised later
 * without invalidating existing hashes. Verification is constant-time.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { CrowbarError } from './errors.js';

/** scrypt cost parameters. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Default cost: N=2^15, r=8, p=1 (about 32 MiB and ~60 ms here). */
export const DEFAULT_SCRYPT: ScryptParams = { N: 32768, r: 8, p: 1 };

const KEYLEN = 32;

function derive(password: string, salt: Buffer, prm: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = { N: prm.N, r: prm.r, p: prm.p, maxmem: 256 * prm.N * prm.r };
  return new Promise((res, rej) => scrypt(password.normalize('NFC'), salt, KEYLEN, opts, (e, k) => (e ? rej(e) : res(k))));
}

/** Hash a password for storage. */
export async function hashPassword(password: string, prm: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, prm);
  return `scrypt$${prm.N}$${prm.r}$${prm.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `password` matches the stored hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw new CrowbarError('internal', 'unknown password hash format');
  const prm = { N: Number(parts[1]), r: Number(parts[2]), p: Number(parts[3]) };
  const salt = Buffer.from(parts[4], 'base64');
  const want = Buffer.from(parts[5], 'base64');
  const got = await derive(password, salt, prm);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A random password of `bytes` bytes of entropy, URL-safe. */
export function generatePassword(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}
