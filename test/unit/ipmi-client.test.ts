/**
 * The session engine against an independently written fake BMC on loopback:
 * cipher suites 3 and 17, commands, wrong credentials, and a BMC that
 * misbehaves in every way we could think of (never a crash, always a
 * CrowbarError with a code).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { withSession, IpmiSession } from '../../src/ipmi/client.js';
import { chassisControl, getBootFlags, getChassisStatus, getDeviceId, setBootDevice } from '../../src/ipmi/commands.js';
import { dgramSocketFactory } from '../../src/ipmi/transport.js';
import { isCrowbarError } from '../../src/lib/errors.js';
import { startFakeBmc, type FakeBmc, type FakeMode } from '../helpers/fakebmc.js';

const opts = { sockets: dgramSocketFactory, timeoutMs: 150, retries: 2 };
let bmc: FakeBmc | undefined;
afterEach(async () => {
  await bmc?.close();
  bmc = undefined;
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (!isCrowbarError(e)) throw e;
    return e.code;
  }
}

describe('IPMI client against a fake BMC', () => {
  for (const suite of [3, 17] as const) {
    it(`cipher suite ${suite}: login, device id, power, boot device, close`, async () => {
      bmc = await startFakeBmc({ password: 'pw-' + suite });
      const t = { host: bmc.host, port: bmc.port, user: 'admin', password: 'pw-' + suite, cipherSuite: suite };
      await withSession(t, opts, async (s) => {
        expect(s.cipherSuite).toBe(suite);
        expect(await getDeviceId(s)).toMatchObject({ deviceId: 0x20, manufacturerId: 0x157, productId: 0x1234, ipmiVersion: '2.0', firmwareRevision: '2.15' });
        expect((await getChassisStatus(s)).powerOn).toBe(false);
        await chassisControl(s, 'on');
        expect((await getChassisStatus(s)).powerOn).toBe(true);
        await setBootDevice(s, { device: 'pxe', persistent: true, efi: true });
        expect(await getBootFlags(s)).toEqual({ valid: true, persistent: true, efi: true, device: 'pxe' });
      });
      expect(bmc.power).toBe(true);
      // Privilege raised first, session closed last.
      expect(bmc.commands[1]).toBe('6/3b');
      expect(bmc.commands.at(-1)).toBe('6/3c');
    });
  }

  it('suite 17 refused by a BMC that only has suite 3', async () => {
    bmc = await startFakeBmc({ suites: [3] });
    expect(await codeOf(IpmiSession.open({ host: bmc.host, port: bmc.port, user: 'admin', password: 'fake-pass', cipherSuite: 17 }, opts))).toBe('bmc.protocol');
  });

  it('wrong password and unknown user are bmc.auth', async () => {
    bmc = await startFakeBmc();
    expect(await codeOf(IpmiSession.open({ host: bmc.host, port: bmc.port, user: 'admin', password: 'nope' }, opts))).toBe('bmc.auth');
    expect(await codeOf(IpmiSession.open({ host: bmc.host, port: bmc.port, user: 'mallory', password: 'fake-pass' }, opts))).toBe('bmc.auth');
  });

  const cases: Array<[FakeMode, string]> = [
    ['silent', 'bmc.unreachable'],
    ['truncated', 'bmc.protocol'],
    ['wrong-session-id', 'bmc.protocol'],
    ['bad-hmac', 'bmc.protocol'],
    ['huge-length', 'bmc.protocol'],
    ['bad-rakp2', 'bmc.auth'],
    ['bad-rakp4', 'bmc.protocol'],
    ['random-garbage', 'bmc.protocol'],
    ['no-rmcpp', 'bmc.protocol'],
  ];
  for (const [mode, code] of cases) {
    it(`malicious BMC (${mode}) -> ${code}`, async () => {
      bmc = await startFakeBmc({ mode });
      const r = await codeOf(withSession({ host: bmc.host, port: bmc.port, user: 'admin', password: 'fake-pass' }, opts, (s) => getChassisStatus(s)));
      expect(r).toBe(code);
    });
  }

  it('a BMC that turns malicious mid-session fails only that call', async () => {
    bmc = await startFakeBmc();
    const t = { host: bmc.host, port: bmc.port, user: 'admin', password: 'fake-pass' };
    const s = await IpmiSession.open(t, opts);
    expect((await getChassisStatus(s)).powerOn).toBe(false);
    bmc.mode = 'bad-hmac';
    expect(await codeOf(getChassisStatus(s))).toBe('bmc.protocol');
    bmc.mode = 'ok';
    expect((await getChassisStatus(s)).powerOn).toBe(false);
    await s.close();
    expect(await codeOf(getChassisStatus(s))).toBe('bmc.protocol');
  });

  it('mutation fuzz: every reply with one byte flipped or cut; always a result or a coded error', async () => {
    bmc = await startFakeBmc({ mode: 'mutate' });
    const seen = new Set<string>();
    for (let i = 0; i < 25; i++) {
      const r = await codeOf(withSession({ host: bmc.host, port: bmc.port, user: 'admin', password: 'fake-pass' }, { ...opts, timeoutMs: 30, retries: 1 }, (s) => getChassisStatus(s)));
      expect(['ok', 'bmc.protocol', 'bmc.auth', 'bmc.unreachable']).toContain(r);
      seen.add(r);
    }
    expect(seen.has('ok')).toBe(false); // the session needs ~6 replies; each one is damaged
  });

  it('rejects over-long credentials before sending anything', async () => {
    expect(await codeOf(IpmiSession.open({ host: '127.0.0.1', port: 9, user: 'x'.repeat(17), password: 'p' }, opts))).toBe('bad_request');
    expect(await codeOf(IpmiSession.open({ host: '127.0.0.1', port: 9, user: 'u', password: 'p'.repeat(21) }, opts))).toBe('bad_request');
  });
});
