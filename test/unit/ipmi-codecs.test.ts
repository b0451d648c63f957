/**
 * IPMI codecs and key derivation, checked against a real capture of
 * ipmitool talking to OpenIPMI's ipmi_sim (two independent implementations
 * computed the RAKP auth codes, the ICV, the AuthCodes and the ciphertext).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCrowbarError } from '../../src/lib/errors.js';
import { decodeRmcp, encodeRmcpHeader } from '../../src/ipmi/rmcp.js';
import { checksum, decodeResponse, encodeRequest, encodeResponse } from '../../src/ipmi/message.js';
import { decodeSession, encodeV15, encodeV20 } from '../../src/ipmi/session.js';
import {
  additionalKey,
  aesDecrypt,
  aesEncrypt,
  CIPHER_SUITES,
  integrityAuthCode,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  sessionIntegrityKey,
  userKey,
  type RakpValues,
} from '../../src/ipmi/crypto.js';
import { decodeOpenSessionResponse, decodeRakp2, decodeRakp4, encodeOpenSessionRequest, encodeRakp1, encodeRakp3 } from '../../src/ipmi/rakp.js';
import { decodeBootFlags, encodeBootFlags } from '../../src/ipmi/commands.js';

const cap = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/ipmi/ipmitool-ipmisim-suite3.json'), 'utf8')) as {
  user: string;
  password: string;
  packets: Array<{ from: 'bmc' | 'console'; hex: string }>;
};
const pkt = (i: number) => Buffer.from(cap.packets[i].hex, 'hex');
const suite3 = CIPHER_SUITES[3];

function expectProtocolError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(isCrowbarError(e, 'bmc.protocol')).toBe(true);
    return;
  }
  throw new Error('expected bmc.protocol');
}

describe('RMCP and IPMI message codecs', () => {
  it('encodes Get Channel Authentication Capabilities exactly as ipmitool does', () => {
    const ours = encodeV15(0, 0, encodeRequest({ netFn: 0x06, cmd: 0x38, rqSeq: 0, data: Buffer.from([0x8e, 0x04]) }));
    expect(ours.toString('hex')).toBe(pkt(0).toString('hex'));
  });

  it('decodes the BMC answer (IPMI v1.5 wrapper, checksums)', () => {
    const p = decodeSession(pkt(1), 0);
    expect(p.format).toBe('v15');
    const r = decodeResponse(p.payload);
    expect(r).toMatchObject({ netFn: 0x07, cmd: 0x38, cc: 0 });
    expect(r.data[1] & 0x80).toBe(0x80); // IPMI v2.0 extended capabilities
    expect(r.data[3] & 0x02).toBe(0x02); // supports IPMI v2.0 connections
  });

  it('checksums are 2s complement sums', () => {
    expect(checksum(Buffer.from([0x20, 0x18]))).toBe(0xc8);
    const resp = encodeResponse({ netFn: 0x07, cmd: 0x01, rqSeq: 5, cc: 0, data: Buffer.from([1, 2, 3]) });
    expect(decodeResponse(resp)).toMatchObject({ netFn: 7, cmd: 1, rqSeq: 5, cc: 0, data: Buffer.from([1, 2, 3]) });
    const bad = Buffer.from(resp);
    bad[7] ^= 0xff;
    expectProtocolError(() => decodeResponse(bad));
    expectProtocolError(() => decodeResponse(resp.subarray(0, 5)));
  });

  it('RMCP header and rejects', () => {
    expect(encodeRmcpHeader()).toEqual(Buffer.from([6, 0, 0xff, 7]));
    expectProtocolError(() => decodeRmcp(Buffer.from([6, 0, 0xff])));
    expectProtocolError(() => decodeRmcp(Buffer.from([5, 0, 0xff, 7])));
    expectProtocolError(() => decodeRmcp(Buffer.from([6, 0, 0xff, 6]))); // ASF class
    expectProtocolError(() => decodeRmcp(Buffer.from([6, 0, 0xff, 0x87]))); // RMCP ACK
  });

  it('rejects truncated and oversized session packets', () => {
    const good = encodeV20({ payloadType: 0x11, sessionId: 0, seq: 0, encrypted: false, payload: Buffer.alloc(36) });
    expect(decodeSession(good, 0)).toMatchObject({ format: 'v20', payloadType: 0x11 });
    expectProtocolError(() => decodeSession(good.subarray(0, 10), 0));
    expectProtocolError(() => decodeSession(good.subarray(0, good.length - 1), 0));
    const huge = Buffer.from(good);
    huge.writeUInt16LE(0xffff, 14);
    expectProtocolError(() => decodeSession(huge, 0));
    // Authenticated packet before a session exists.
    const authd = encodeV20({ payloadType: 0, sessionId: 1, seq: 1, encrypted: false, payload: Buffer.alloc(8), authCode: () => Buffer.alloc(12) });
    expectProtocolError(() => decodeSession(authd, 0));
    expect(decodeSession(authd, 12)).toMatchObject({ authenticated: true });
    expectProtocolError(() => decodeSession(authd.subarray(0, authd.length - 3), 12));
    for (let n = 0; n < 200; n++) {
      const junk = Buffer.from(Array.from({ length: n % 70 }, (_, i) => (i * 37 + n * 11) & 0xff));
      junk[0] = 6;
      if (junk.length > 3) junk[3] = 7;
      try {
        decodeSession(junk, n % 2 ? 12 : 0);
      } catch (e) {
        expect(isCrowbarError(e, 'bmc.protocol')).toBe(true);
      }
    }
  });

  it('boot flags encoding (table 28-14)', () => {
    expect(encodeBootFlags({ device: 'pxe', persistent: false, efi: false })).toEqual(Buffer.from([0x80, 0x04, 0, 0, 0]));
    expect(encodeBootFlags({ device: 'disk', persistent: true, efi: true })).toEqual(Buffer.from([0xe0, 0x08, 0, 0, 0]));
    expect(encodeBootFlags({ device: 'bios', persistent: false, efi: true })).toEqual(Buffer.from([0xa0, 0x18, 0, 0, 0]));
    expect(decodeBootFlags(Buffer.from([0xe0, 0x08, 0, 0, 0]))).toEqual({ valid: true, persistent: true, efi: true, device: 'disk' });
  });
});

describe('RAKP and session keys against the ipmitool/ipmi_sim capture', () => {
  const open = decodeSession(pkt(2), 0);
  const openResp = decodeSession(pkt(3), 0);
  const rakp1 = decodeSession(pkt(4), 0);
  const rakp2 = decodeSession(pkt(5), 0);
  const rakp3 = decodeSession(pkt(6), 0);
  const rakp4 = decodeSession(pkt(7), 0);
  const consoleSid = open.payload.readUInt32LE(4);
  const osr = decodeOpenSessionResponse(openResp.payload);
  const r2 = decodeRakp2(rakp2.payload, 20);
  const v: RakpValues = {
    consoleSid,
    bmcSid: osr.bmcSid,
    consoleRandom: Buffer.from(rakp1.payload.subarray(8, 24)),
    bmcRandom: r2.bmcRandom,
    bmcGuid: r2.bmcGuid,
    role: rakp1.payload[24],
    user: Buffer.from(cap.user),
  };
  const kuid = userKey(cap.password);
  const sik = sessionIntegrityKey(suite3, kuid, v);
  const k1 = additionalKey(suite3, sik, 1);
  const k2 = additionalKey(suite3, sik, 2);

  it('Open Session Request/Response', () => {
    expect(encodeOpenSessionRequest({ tag: open.payload[0], privilege: 0, consoleSid, suite: suite3 })).toEqual(open.payload);
    expect(osr).toMatchObject({ status: 0, consoleSid, authAlg: 1, integrityAlg: 1, confAlg: 1 });
    expect(osr.bmcSid).not.toBe(0);
  });

  it('RAKP1 layout', () => {
    expect(encodeRakp1({ tag: rakp1.payload[0], bmcSid: osr.bmcSid, consoleRandom: v.consoleRandom, role: v.role, user: v.user })).toEqual(rakp1.payload);
  });

  it('RAKP2 auth code computed by ipmi_sim matches ours', () => {
    expect(r2.status).toBe(0);
    expect(rakp2AuthCode(suite3, kuid, v)).toEqual(r2.authCode);
    expect(rakp2AuthCode(suite3, userKey('wrong-password'), v)).not.toEqual(r2.authCode);
  });

  it('RAKP3 auth code computed by ipmitool matches ours', () => {
    expect(encodeRakp3({ tag: rakp3.payload[0], status: 0, bmcSid: osr.bmcSid, authCode: rakp3AuthCode(suite3, kuid, v) })).toEqual(rakp3.payload);
  });

  it('RAKP4 ICV (from the SIK) matches', () => {
    const r4 = decodeRakp4(rakp4.payload, 12);
    expect(r4.status).toBe(0);
    expect(rakp4Icv(suite3, sik, v)).toEqual(r4.icv);
  });

  it('session packets: AuthCode with K1 and AES-CBC-128 with K2', () => {
    let sawChassisStatus = false;
    for (let i = 8; i < cap.packets.length; i++) {
      const p = decodeSession(pkt(i), 12);
      if (p.format !== 'v20' || !p.integrity) throw new Error('expected an authenticated v2 packet');
      expect(integrityAuthCode(suite3, k1, p.integrity.covered)).toEqual(p.integrity.authCode);
      const plain = aesDecrypt(k2, p.payload);
      expect(checksum(plain, 0, 2)).toBe(plain[2]);
      expect(checksum(plain, 3, plain.length - 1)).toBe(plain[plain.length - 1]);
      if (cap.packets[i].from === 'bmc') {
        const r = decodeResponse(plain);
        if (r.netFn === 7 && r.cmd === 0x3b) expect(r.cc).toBe(0); // Set Session Privilege Level
        if (r.netFn === 1 && r.cmd === 1) {
          expect(r.cc).toBe(0);
          sawChassisStatus = true;
          expect(r.data[0] & 1).toBe(0); // "Chassis Power is off"
        }
      }
    }
    expect(sawChassisStatus).toBe(true);
  });

  it('AES round trip with IPMI padding, bad padding rejected', () => {
    const key = Buffer.alloc(20, 7);
    for (const n of [0, 1, 14, 15, 16, 17, 40]) {
      const data = Buffer.alloc(n, 0x5a);
      const enc = aesEncrypt(key, Buffer.alloc(16, 1), data);
      expect(enc.length % 16).toBe(0);
      expect(aesDecrypt(key, enc)).toEqual(data);
    }
    expectProtocolError(() => aesDecrypt(key, Buffer.alloc(20)));
    expectProtocolError(() => aesDecrypt(key, Buffer.alloc(48, 3)));
  });
});

describe('cipher suite 17 (HMAC-SHA256) derivations', () => {
  // Independent computation with node:crypto of the §13.31 formulas.
  const s17 = CIPHER_SUITES[17];
  const v: RakpValues = {
    consoleSid: 0x11223344,
    bmcSid: 0x55667788,
    consoleRandom: Buffer.alloc(16, 0xa1),
    bmcRandom: Buffer.alloc(16, 0xb2),
    bmcGuid: Buffer.alloc(16, 0xc3),
    role: 0x14,
    user: Buffer.from('root'),
  };
  const pw = 'calvin';
  const h = (k: Buffer | string, ...d: Buffer[]) => createHmac('sha256', k).update(Buffer.concat(d)).digest();
  const le = (n: number) => Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24]);

  it('RAKP2/RAKP3/SIK/ICV/K1/K2 and the 16-byte AuthCode', () => {
    const tail = Buffer.from([0x14, 4, ...Buffer.from('root')]);
    expect(rakp2AuthCode(s17, userKey(pw), v)).toEqual(h(pw, le(v.consoleSid), le(v.bmcSid), v.consoleRandom, v.bmcRandom, v.bmcGuid, tail));
    expect(rakp3AuthCode(s17, userKey(pw), v)).toEqual(h(pw, v.bmcRandom, le(v.consoleSid), tail));
    const sik = h(pw, v.consoleRandom, v.bmcRandom, tail);
    expect(sessionIntegrityKey(s17, userKey(pw), v)).toEqual(sik);
    expect(rakp4Icv(s17, sik, v)).toEqual(h(sik, v.consoleRandom, le(v.bmcSid), v.bmcGuid).subarray(0, 16));
    const k1 = h(sik, Buffer.alloc(20, 1));
    expect(additionalKey(s17, sik, 1)).toEqual(k1);
    expect(additionalKey(s17, sik, 2)).toEqual(h(sik, Buffer.alloc(20, 2)));
    expect(integrityAuthCode(s17, k1, Buffer.from('covered'))).toEqual(h(k1, Buffer.from('covered')).subarray(0, 16));
    expect(rakp2AuthCode(s17, userKey(pw), v).length).toBe(32);
  });
});
