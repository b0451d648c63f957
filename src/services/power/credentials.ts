/**
 * BMC credentials at rest (design.md §4): passwords are generated per node
 * and stored in nodes.bmc_password_enc sealed by the appliance SecretBox
 * (src/lib/secret-box.ts: AES-256-GCM) under a key kept in a file outside
 * the database (default <data_dir>/keys/bmc.key, mode
 * 0600, created on first start). The node id is the GCM additional data, so
 * a ciphertext copied to another node's row does not decrypt.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CrowbarError } from '../../lib/errors.js';
import type { SecretBox } from '../../lib/secret-box.js';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** Encrypts and decrypts BMC passwords; the node id is bound into each ciphertext. */
export class BmcSecretBox {
  constructor(private readonly box: SecretBox) {}

  /** Encrypt `password` for node `nodeId`. */
  encrypt(nodeId: number, password: string): string {
    return this.box.seal(`crowbar-bmc:${nodeId}`, password);
  }

  /** Decrypt a stored password; a wrong key, node or tampered value throws internal. */
  decrypt(nodeId: number, enc: string): string {
    return this.box.open(`crowbar-bmc:${nodeId}`, enc, 'BMC password');
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
