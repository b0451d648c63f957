/**
 * The simulated BMC (src/sim/bmc.ts) as an RMCP+ server: our own client
 * (suites 3 and 17) and ipmitool `-I lanplus -C 3` open sessions, read and
 * change power, set boot flags; wrong credentials are refused; in-band user
 * and LAN configuration (what hardware-install does) changes the credentials
 * the LAN accepts and moves the endpoint to the new address.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { IpmiSession } from '../../src/ipmi/client.js';
import { configureUser, getBootFlags, getChassisStatus, getDeviceId, chassisControl, setBootDevice, setLanAddress, getLanAddress } from '../../src/ipmi/commands.js';
import { dgramSocketFactory } from '../../src/ipmi/transport.js';
import { isCrowbarError } from '../../src/lib/errors.js';
import { SimBmc } from '../../src/sim/bmc.js';
import { BmcEndpoint } from '../../src/sim/bmc-endpoint.js';

const run = promisify(execFile);
const opts = { sockets: dgramSocketFactory, timeoutMs: 200, retries: 2 };
const PORT = 26623 + (process.pid % 500);
const open: BmcEndpoint[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

async function start(ip: string, loss = 0) {
  const events: string[] = [];
  const moves: string[] = [];
  const bmc = new SimBmc({
    guid: randomBytes(16),
    mac: Buffer.from([2, 0, 0, 0, 0, 1]),
    ip,
    users: { 2: { name: 'admin', password: 'factory', enabled: true, privilege: 4 } },
    powerOn: false,
    random: randomBytes,
    now: () => Date.now(),
    events: { chassis: (a) => events.push(a), addressChanged: (a) => moves.push(a) },
  });
  const ep = new BmcEndpoint(bmc, () => createSocket('udp4'), PORT, loss, Math.random);
  await ep.listen(ip);
  open.push(ep);
  return { bmc, ep, events, moves };
}

describe('simulated BMC', () => {
  it('serves our client with suites 3 and 17: power, boot flags, device id', async () => {
    const { bmc, events } = await start('127.0.77.1');
    for (const cipherSuite of [3, 17] as const) {
      const s = await IpmiSession.open({ host: '127.0.77.1', port: PORT, user: 'admin', password: 'factory', cipherSuite }, opts);
      expect((await getDeviceId(s)).ipmiVersion).toBe('2.0');
      await chassisControl(s, 'on');
      expect((await getChassisStatus(s)).powerOn).toBe(true);
      await chassisControl(s, 'off');
      expect((await getChassisStatus(s)).powerOn).toBe(false);
      await setBootDevice(s, { device: 'pxe', persistent: false, efi: true });
      expect(await getBootFlags(s)).toMatchObject({ device: 'pxe', efi: true });
      await s.close();
    }
    expect(events).toEqual(['on', 'off', 'on', 'off']);
    expect(bmc.counters.sessions).toBe(2);
  });

  it('refuses a wrong password and an unknown user', async () => {
    const { bmc } = await start('127.0.77.2');
    for (const [user, password] of [['admin', 'nope'], ['ghost', 'factory']]) {
      const err = await IpmiSession.open({ host: '127.0.77.2', port: PORT, user, password }, opts).then(() => null, (e) => e);
      expect(isCrowbarError(err, 'bmc.auth'), String(err)).toBe(true);
    }
    expect(bmc.counters.authFailures).toBeGreaterThanOrEqual(1);
    expect(bmc.counters.sessions).toBe(0);
  });

  it('in-band hardware-install: new user and address; the LAN then accepts only those', async () => {
    const { bmc, ep, moves } = await start('127.0.77.3');
    const kcs = bmc.inBand();
    await configureUser(kcs, { channel: 1, userId: 3, name: 'crowbar', password: 'A-generated-pw-20byte' .slice(0, 20) });
    await setLanAddress(kcs, 1, { ip: '127.0.77.4', netmask: '255.255.0.0', vlan: null });
    expect(moves).toEqual(['127.0.77.4']);
    await ep.listen(moves[0]);
    expect(await getLanAddress(kcs, 1)).toMatchObject({ ip: '127.0.77.4', netmask: '255.255.0.0', source: 'static', vlan: null });
    const s = await IpmiSession.open({ host: '127.0.77.4', port: PORT, user: 'crowbar', password: 'A-generated-pw-20byte'.slice(0, 20), cipherSuite: 17 }, opts);
    expect((await getChassisStatus(s)).powerOn).toBe(false);
    await s.close();
    const old = await IpmiSession.open({ host: '127.0.77.3', port: PORT, user: 'crowbar', password: 'A-generated-pw-20byte'.slice(0, 20) }, opts).then(() => null, (e) => e);
    expect(isCrowbarError(old, 'bmc.unreachable') || isCrowbarError(old, 'bmc.timeout'), String(old)).toBe(true);
  });

  it('answers ipmitool -I lanplus -C 3 (power on/status, lan print, boot device)', async () => {
    if (!existsSync('/usr/bin/ipmitool')) throw new Error('ipmitool is not installed (apt-get install ipmitool)');
    const { bmc, events } = await start('127.0.77.5');
    const it = (...a: string[]) => run('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', '127.0.77.5', '-p', String(PORT), '-U', 'admin', '-P', 'factory', '-N', '1', '-R', '2', ...a], { timeout: 20_000 });
    expect((await it('chassis', 'power', 'status')).stdout).toMatch(/Chassis Power is off/);
    expect((await it('chassis', 'power', 'on')).stdout).toMatch(/Up\/On/);
    expect((await it('chassis', 'power', 'status')).stdout).toMatch(/Chassis Power is on/);
    expect(events).toEqual(['on']);
    expect((await it('lan', 'print', '1')).stdout).toMatch(/IP Address\s+:\s+127\.0\.77\.5/);
    await it('chassis', 'bootdev', 'pxe');
    expect(bmc.bootFlags[1] >> 2).toBe(1);
    const bad = await run('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', '127.0.77.5', '-p', String(PORT), '-U', 'admin', '-P', 'wrong', '-N', '1', '-R', '1', 'chassis', 'power', 'status']).then(() => 'ok', (e) => String(e.stderr));
    expect(bad).toMatch(/Unable to establish IPMI v2 \/ RMCP\+ session/);
    expect(bmc.counters.sessions).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('loses the configured share of datagrams', async () => {
    const { ep } = await start('127.0.77.6', 1);
    const err = await IpmiSession.open({ host: '127.0.77.6', port: PORT, user: 'admin', password: 'factory' }, { ...opts, retries: 1 }).then(() => null, (e) => e);
    expect(err).not.toBeNull();
    expect(ep.dropped).toBeGreaterThan(0);
  });
});
