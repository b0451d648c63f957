/**
 * RMCP+ cryptography (IPMI v2.0 §13.28-13.32): cipher suites 3 and 17, the
 * RAKP key-exchange authentication codes, session integrity key (SIK) and
 * the additional keys K1/K2, HMAC integrity and AES-CBC-128 confidentiality.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { CrowbarError } from '../lib/errors.js';

/** Algorithms of one cipher suite (§22.15.2, table 22-20). */
export interface CipherSuite {
  id: 3 | 17;
  /** Authentication algorithm number (§13.28): 01h RAKP-HMAC-SHA1, 03h RAKP-HMAC-SHA256. */
  authAlg: number;
  /** Integrity algorithm number (§13.28.4): 01h HMAC-SHA1-96, 04h HMAC-SHA256-128. */
  integrityAlg: number;
  /** Confidentiality algorithm number (§13.28.5): 01h AES-CBC-128. */
  confAlg: number;
  /** Hash of the HMACs. */
  hash: 'sha1' | 'sha256';
  /** Length of the RAKP2/RAKP3 key exchange auth code (full HMAC). */
  rakpLen: number;
  /** Length of the RAKP4 integrity check value (§13.28.1: 12 for SHA1, 16 for SHA256). */
  icvLen: number;
  /** Length of the AuthCode in the session trailer (§13.28.4). */
  authCodeLen: number;
}

/** The supported cipher suites. */
export const CIPHER_SUITES: Readonly<Record<3 | 17, CipherSuite>> = {
  3: { id: 3, authAlg: 0x01, integrityAlg: 0x01, confAlg: 0x01, hash: 'sha1', rakpLen: 20, icvLen: 12, authCodeLen: 12 },
  17: { id: 17, authAlg: 0x03, integrityAlg: 0x04, confAlg: 0x01, hash: 'sha256', rakpLen: 32, icvLen: 16, authCodeLen: 16 },
};

/** HMAC of `parts` with `key`. */
export function hmac(hash: 'sha1' | 'sha256', key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac(hash, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Constant-time equality of two buffers (false when lengths differ). */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Kuid, the user key (§13.31): the password padded with zeros to 20 bytes
 * (16-byte IPMI 1.5 passwords are a prefix of that).
 */
export function userKey(password: string): Buffer {
  const p = Buffer.from(password, 'utf8');
  if (p.length > 20) throw new CrowbarError('bad_request', 'IPMI passwords are at most 20 bytes');
  const k = Buffer.alloc(20);
  p.copy(k);
  return k;
}

/** Values exchanged during RAKP that the auth codes cover (§13.20-13.23). */
export interface RakpValues {
  /** Remote console session ID (SIDm). */
  consoleSid: number;
  /** Managed system session ID (SIDc). */
  bmcSid: number;
  /** Remote console random number Rm (16 bytes). */
  consoleRandom: Buffer;
  /** Managed system random number Rc (16 bytes). */
  bmcRandom: Buffer;
  /** Managed system GUID (16 bytes). */
  bmcGuid: Buffer;
  /** The role byte sent in RAKP1 (privilege + name-only lookup bit). */
  role: number;
  /** User name bytes. */
  user: Buffer;
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** RAKP2 key exchange auth code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm) (§13.31). */
export function rakp2AuthCode(s: CipherSuite, kuid: Buffer, v: RakpValues): Buffer {
  return hmac(s.hash, kuid, u32le(v.consoleSid), u32le(v.bmcSid), v.consoleRandom, v.bmcRandom, v.bmcGuid, Buffer.from([v.role, v.user.length]), v.user);
}

/** RAKP3 key exchange auth code: HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm) (§13.31). */
export function rakp3AuthCode(s: CipherSuite, kuid: Buffer, v: RakpValues): Buffer {
  return hmac(s.hash, kuid, v.bmcRandom, u32le(v.consoleSid), Buffer.from([v.role, v.user.length]), v.user);
}

/** Session integrity key SIK = HMAC_KG(Rm, Rc, ROLEm, ULENGTHm, UNAMEm); KG defaults to Kuid (§13.31). */
export function sessionIntegrityKey(s: CipherSuite, kg: Buffer, v: RakpValues): Buffer {
  return hmac(s.hash, kg, v.consoleRandom, v.bmcRandom, Buffer.from([v.role, v.user.length]), v.user);
}

/** RAKP4 integrity check value: HMAC_SIK(Rm, SIDc, GUIDc) truncated (§13.31, §13.28.1). */
export function rakp4Icv(s: CipherSuite, sik: Buffer, v: RakpValues): Buffer {
  return hmac(s.hash, sik, v.consoleRandom, u32le(v.bmcSid), v.bmcGuid).subarray(0, s.icvLen);
}

/** Additional key material Kn = HMAC_SIK(const n repeated 20 times) (§13.32). */
export function additionalKey(s: CipherSuite, sik: Buffer, n: 1 | 2 | 3): Buffer {
  return hmac(s.hash, sik, Buffer.alloc(20, n));
}

/** AuthCode of the session trailer: HMAC_K1 over the covered bytes, truncated (§13.28.4). */
export function integrityAuthCode(s: CipherSuite, k1: Buffer, covered: Buffer): Buffer {
  return hmac(s.hash, k1, covered).subarray(0, s.authCodeLen);
}

/**
 * AES-CBC-128 encryption of a payload (§13.29): a random 16-byte IV, then the
 * data followed by pad bytes 01h, 02h, ... and the pad length, so that the
 * plaintext is a multiple of 16 bytes. The key is the first 16 bytes of K2.
 */
export function aesEncrypt(k2: Buffer, iv: Buffer, data: Buffer): Buffer {
  const padLen = (16 - ((data.length + 1) % 16)) % 16;
  const plain = Buffer.alloc(data.length + padLen + 1);
  data.copy(plain);
  for (let i = 0; i < padLen; i++) plain[data.length + i] = i + 1;
  plain[plain.length - 1] = padLen;
  const c = createCipheriv('aes-128-cbc', k2.subarray(0, 16), iv);
  c.setAutoPadding(false);
  return Buffer.concat([iv, c.update(plain), c.final()]);
}

/** Inverse of aesEncrypt; malformed ciphertext or padding throws bmc.protocol (§13.29). */
export function aesDecrypt(k2: Buffer, payload: Buffer): Buffer {
  if (payload.length < 32 || payload.length % 16 !== 0) throw new CrowbarError('bmc.protocol', `encrypted payload of ${payload.length} bytes is not IV + whole AES blocks`);
  const d = createDecipheriv('aes-128-cbc', k2.subarray(0, 16), payload.subarray(0, 16));
  d.setAutoPadding(false);
  const plain = Buffer.concat([d.update(payload.subarray(16)), d.final()]);
  const padLen = plain[plain.length - 1];
  if (padLen > 15 || padLen + 1 > plain.length) throw new CrowbarError('bmc.protocol', `confidentiality pad length ${padLen} is invalid`);
  // §13.29.1: pad bytes are 01h, 02h, ...; the receiver checks them.
  for (let i = 0; i < padLen; i++) if (plain[plain.length - 1 - padLen + i] !== i + 1) throw new CrowbarError('bmc.protocol', 'confidentiality pad bytes are wrong');
  return plain.subarray(0, plain.length - 1 - padLen);
}
