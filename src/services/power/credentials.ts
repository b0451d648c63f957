/**
 * BMC credentials at rest (design.md §4): passwords are generated per node
 * and stored in nodes.bmc_password_enc encrypted with AES-256-GCM under a key
 * kept in a file outside the database (default <data_dir>/keys/bmc.key, mode
 * 0600, created on first start). The node id is the GCM additional data, so
 * a ciphertext copied to another node's row does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CrowbarError } from '../../lib/errors.js';

const PREFIX = 'v1:';
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** Encrypts and decrypts BMC passwords with one 32-byte key. */
export class BmcSecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new CrowbarError('config.invalid', 'the BMC key must be 32 bytes');
  }

  /** Encrypt `password` for node `nodeId`: "v1:" + base64(iv | tag | ciphertext). */
  encrypt(nodeId: number, password: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(`crowbar-bmc:${nodeId}`));
    const ct = Buffer.concat([c.update(password, 'utf8'), c.final()]);
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  /** Decrypt a stored password; a wrong key, node or tampered value throws internal. */
  decrypt(nodeId: number, enc: string): string {
    if (!enc.startsWith(PREFIX)) throw new CrowbarError('internal', 'stored BMC password has an unknown format');
    const raw = Buffer.from(enc.slice(PREFIX.length), 'base64');
    if (raw.length < 28) throw new CrowbarError('internal', 'stored BMC password is truncated');
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(`crowbar-bmc:${nodeId}`));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch {
      throw new CrowbarError('internal', 'stored BMC password does not decrypt with the key file (wrong key file or tampered database)');
    }
  }
}

/**
 * A random BMC password: 16 characters (the IPMI 1.5 maximum, so every BMC
 * accepts it) from an unambiguous alphanumeric alphabet, ~92 bits.
 */
export function generateBmcPassword(length = 16): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // Rejection sampling keeps the distribution uniform.
      if (b < 256 - (256 % ALPHABET.length) && out.length < length) out += ALPHABET[b % ALPHABET.length];
    }
  }
  return out;
}

/**
 * Read the 32-byte key from `path`, creating it (directory 0700, file 0600,
 * exclusive create) when missing. A key file readable by others is tightened
 * to 0600; a file of the wrong size stops start-up.
 */
export function loadOrCreateBmcKey(path: string): { key: Buffer; created: boolean } {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const key = randomBytes(32);
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new CrowbarError('config.invalid', `cannot create BMC key file ${path}: ${(e as Error).message}`);
      return loadOrCreateBmcKey(path);
    }
    try {
      writeSync(fd, key);
    } finally {
      closeSync(fd);
    }
    return { key, created: true };
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const key = readFileSync(path);
  if (key.length !== 32) throw new CrowbarError('config.invalid', `BMC key file ${path} must hold exactly 32 bytes (found ${key.length}); restore it from a backup`);
  return { key, created: false };
}
