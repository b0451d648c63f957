/**
 * Secrets at rest (design.md §4): AES-256-GCM under one 32-byte key kept in a
 * file outside the database. Each value is bound to its purpose and owner
 * through the GCM additional data (e.g. `crowbar-bmc:<node id>`), so a
 * ciphertext copied to another row or another kind of secret does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CrowbarError } from './errors.js';

const PREFIX = 'v1:';

/** True when `value` is in the sealed format (not a legacy plaintext). */
export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** Seals and opens secrets with one key. */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new CrowbarError('config.invalid', 'the secrets key must be 32 bytes');
  }

  /** Encrypt `plain` bound to `aad`: "v1:" + base64(iv | tag | ciphertext). */
  seal(aad: string, plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  /** Decrypt a sealed value; a wrong key, purpose or tampered value throws internal naming `what`. */
  open(aad: string, sealed: string, what = 'secret'): string {
    if (!isSealed(sealed)) throw new CrowbarError('internal', `stored ${what} has an unknown format`);
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    if (raw.length < 28) throw new CrowbarError('internal', `stored ${what} is truncated`);
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch {
      throw new CrowbarError('internal', `stored ${what} does not decrypt with the key file (wrong key file or tampered database)`);
    }
  }
}
