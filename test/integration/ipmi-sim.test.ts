/**
 * Against a real BMC simulator (OpenIPMI ipmi_sim) in a network namespace
 * this test creates: our RMCP+ client (login, wrong password, device ID,
 * power status/on/off/cycle, boot device PXE checked with ipmitool), the
 * same operations through the appliance API with the `ipmi` and `ipmitool`
 * drivers, a malicious BMC next to the healthy one, and 100 unreachable
 * BMCs that must not hold up power operations on the healthy one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns, createNetnsPair, have, type NetnsPair } from '../helpers/netns.js';
import { startIpmiSim, type IpmiSim } from '../helpers/ipmisim.js';
import { startWorker, type NsWorker } from '../helpers/worker.js';

const enabled = canUseNetns() && have('ipmi_sim') && have('ipmitool');

describe.skipIf(!enabled)('IPMI against ipmi_sim in a namespace', () => {
  let pair: NetnsPair;
  let sim: IpmiSim;
  let w: NsWorker;
  let target: { host: string; user: string; password: string };
  const ipmitool = (...args: string[]) =>
    pair.exec(pair.cli, ['ipmitool', '-I', 'lanplus', '-C', '3', '-H', sim.host, '-U', 'admin', '-E', ...args], { timeoutMs: 20_000 });

  beforeAll(async () => {
    pair = createNetnsPair();
    sim = await startIpmiSim(pair, pair.srv, pair.srvIp);
    process.env.IPMI_PASSWORD = sim.password; // for ipmitool -E in pair.exec
    w = await startWorker(pair, pair.cli);
    target = { host: sim.host, user: 'admin', password: sim.password };
    await w.must('init', {
      config: {
        services: {
          dhcp: { enabled: false },
          tftp: { enabled: false },
          dns: { enabled: false },
          ntp: { enabled: false },
          http: { bind: '127.0.0.1', port: 1 },
          power: { poll_interval_ms: 200, state_timeout_ms: 8000, pace_ms: 50, retries: 1, ipmi: { timeout_ms: 700, retries: 3 } },
        },
      },
    });
  });

  afterAll(() => {
    w?.stop();
    sim?.stop();
    pair?.cleanup();
    delete process.env.IPMI_PASSWORD;
  });

  it('our client: login and Get Device ID', async () => {
    const [id] = await w.must('client', { target, steps: ['deviceId'] });
    expect(id).toMatchObject({ manufacturerId: 0x1291, productId: 0xf02, ipmiVersion: '2.0', firmwareRevision: '9.08' });
  });

  it('our client: wrong password and unknown user are refused with bmc.auth', async () => {
    const bad = await w.call('client', { target: { ...target, password: 'wrong-password' }, steps: ['status'] });
    expect(bad).toMatchObject({ ok: false, error: { code: 'bmc.auth' } });
    const nouser = await w.call('client', { target: { ...target, user: 'nobody' }, steps: ['status'] });
    expect(nouser).toMatchObject({ ok: false, error: { code: 'bmc.auth' } });
  });

  it('our client: power status, on, off, cycle', async () => {
    expect(await w.must('client', { target, steps: ['status', 'control:on', 'status'] })).toEqual(['off', null, 'on']);
    expect(sim.power()).toBe(1);
    expect(await w.must('client', { target, steps: ['control:off', 'status'] })).toEqual([null, 'off']);
    expect(sim.power()).toBe(0);
    // ipmi_sim's cycle: off now, on again about a second later.
    await w.must('client', { target, steps: ['control:on', 'control:cycle'] });
    const log = sim.chassisLog();
    expect(log.slice(-2)).toEqual(['set power 1', 'set power 0']);
    const after = await w.must('client', { target, steps: ['sleep:2500', 'status'] });
    expect(after).toEqual(['on']);
  });

  it('our client: boot device PXE, verified with ipmitool chassis bootparam get 5', async () => {
    await w.must('client', { target, steps: ['bootdev:disk'] });
    expect(ipmitool('chassis', 'bootparam', 'get', '5')).toMatch(/Force Boot from default Hard-Drive/);
    await w.must('client', { target, steps: ['bootdev:pxe'] });
    expect(ipmitool('chassis', 'bootparam', 'get', '5')).toMatch(/Boot Device Selector : Force PXE/);
    const [flags] = await w.must('client', { target, steps: ['bootflags'] });
    expect(flags.device).toBe('pxe');
  });

  it('our client: create a BMC user (name, password, access, enable) and log in with it', async () => {
    // 16 bytes, the length Crowbar generates: ipmi_sim keeps only 16 bytes of a 20-byte
    // password (ipmitool `user set password N PW 20` shows the same), see docs/ipmi.md.
    const pw = 'Gen3rated-Pw16ch';
    await w.must('client', { target, steps: [`setUser:4,crowbar,${pw}`] });
    const [st] = await w.must('client', { target: { host: sim.host, user: 'crowbar', password: pw }, steps: ['status'] });
    expect(['on', 'off']).toContain(st);
    const wrong = await w.call('client', { target: { host: sim.host, user: 'crowbar', password: 'Gen3rated-Pw16cX' }, steps: ['status'] });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'bmc.auth' } });
  });

  it('our client: LAN configuration get/set', async () => {
    const r = await w.call('client', { target, steps: ['setLan:10.9.8.7,255.255.255.0,10.9.8.1', 'lan'] });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.result[1]).toMatchObject({ ip: '10.9.8.7', netmask: '255.255.255.0', gateway: '10.9.8.1', source: 'static' });
  });

  const viaApi = async (name: string, action: string) => (await w.must('inject', { method: 'POST', url: `/api/v1/nodes/${name}/power`, payload: { action } })).body;

  for (const [i, driver] of [[1, 'ipmi'], [2, 'ipmitool']] as const) {
    it(`appliance API with the ${driver} driver: status, on, off, cycle, bootdev pxe`, async () => {
      const node = await w.must('createNode', { mac: `52:54:00:ab:00:0${i}` });
      const put = await w.must('inject', { method: 'PUT', url: `/api/v1/nodes/${node.name}/bmc`, payload: { address: sim.host, user: 'admin', password: sim.password, driver } });
      expect(put.status).toBe(200);
      expect(JSON.stringify(put.body)).not.toContain(sim.password);
      await w.must('client', { target, steps: ['control:off'] });
      expect(await viaApi(node.name, 'status')).toMatchObject({ state: 'off', reached: true, driver });
      expect(await viaApi(node.name, 'on')).toMatchObject({ state: 'on', reached: true });
      expect(sim.power()).toBe(1);
      expect(await viaApi(node.name, 'off')).toMatchObject({ state: 'off', reached: true });
      expect(sim.power()).toBe(0);
      await viaApi(node.name, 'on');
      const mark = sim.chassisLog().length;
      const cyc = await viaApi(node.name, 'cycle');
      expect(cyc).toMatchObject({ state: 'on', reached: true });
      expect(cyc.detail).toBeUndefined(); // the off phase was observed
      expect(sim.chassisLog().slice(mark)).toContain('set power 0');
      await w.must('client', { target, steps: ['bootdev:disk'] });
      const b = await w.must('inject', { method: 'POST', url: `/api/v1/nodes/${node.name}/bootdev`, payload: { device: 'pxe' } });
      expect(b.status).toBe(200);
      expect(ipmitool('chassis', 'bootparam', 'get', '5')).toMatch(/Force PXE/);
      const logs = JSON.stringify(await w.must('logs'));
      expect(logs).not.toContain(sim.password);
      // Wrong password through this driver: bmc.auth for this node.
      const wrong = await w.must('createNode', { mac: `52:54:00:ab:00:1${i}` });
      await w.must('inject', { method: 'PUT', url: `/api/v1/nodes/${wrong.name}/bmc`, payload: { address: sim.host, user: 'admin', password: 'not-the-password', driver } });
      const r = await w.must('inject', { method: 'POST', url: `/api/v1/nodes/${wrong.name}/power`, payload: { action: 'status' } });
      expect(r.status).toBe(502);
      expect(r.body.error).toBe('bmc.auth');
    });
  }

  it('a malicious BMC faults its node only; the service keeps serving', async () => {
    const ok = await w.must('createNode', { mac: '52:54:00:ab:01:00' });
    await w.must('inject', { method: 'PUT', url: `/api/v1/nodes/${ok.name}/bmc`, payload: { address: sim.host, user: 'admin', password: sim.password, driver: 'ipmi' } });
    const modes = ['truncated', 'wrong-session-id', 'bad-hmac', 'huge-length'] as const;
    const bads: string[] = [];
    for (const [j, mode] of modes.entries()) {
      const fake = await w.must('fakeBmc', { mode, password: 'x' });
      const bad = await w.must('createNode', { mac: `52:54:00:ab:01:1${j}` });
      await w.must('inject', { method: 'PUT', url: `/api/v1/nodes/${bad.name}/bmc`, payload: { address: `${fake.host}:${fake.port}`, user: 'admin', password: 'x' } });
      bads.push(bad.name);
    }
    const badRuns = Promise.all(bads.map((name) => w.must('inject', { method: 'POST', url: `/api/v1/nodes/${name}/power`, payload: { action: 'status' } })));
    const good = await w.must('inject', { method: 'POST', url: `/api/v1/nodes/${ok.name}/power`, payload: { action: 'status' } });
    expect(good.status).toBe(200);
    for (const [j, rb] of (await badRuns).entries()) {
      expect(rb.status, modes[j]).toBe(502);
      expect(rb.body.error, modes[j]).toBe('bmc.protocol');
      const info = await w.must('inject', { method: 'GET', url: `/api/v1/nodes/${bads[j]}/power` });
      expect(info.body.fault_code, modes[j]).toBe('bmc.protocol');
    }
    expect((await w.must('inject', { method: 'POST', url: `/api/v1/nodes/${ok.name}/power`, payload: { action: 'status' } })).status).toBe(200);
    const health = await w.must('inject', { method: 'GET', url: '/api/v1/health' });
    expect(health.status).toBe(200);
  });

  it('100 unreachable BMCs do not hold up a healthy one', async () => {
    const healthy = await w.must('createNode', { mac: '52:54:00:ab:02:00' });
    await w.must('inject', { method: 'PUT', url: `/api/v1/nodes/${healthy.name}/bmc`, payload: { address: sim.host, user: 'admin', password: sim.password, driver: 'ipmi' } });
    const subnet = pair.srvIp.split('.').slice(0, 3).join('.');
    const dead: string[] = [];
    for (let k = 0; k < 100; k++) {
      // Addresses in the namespace's subnet that nobody owns: ARP fails, nothing answers.
      const n = await w.must('createNode', { mac: `52:54:00:ab:03:${k.toString(16).padStart(2, '0')}` });
      await w.must('inject', { method: 'PUT', url: `/api/v1/nodes/${n.name}/bmc`, payload: { address: `${subnet}.${100 + k}`, user: 'admin', password: 'x', driver: 'ipmi' } });
      dead.push(n.name);
    }
    const deadRuns = dead.map((name) => w.must('inject', { method: 'POST', url: `/api/v1/nodes/${name}/power`, payload: { action: 'status' } }));
    // While all 100 are waiting for answers that never come, drive the healthy node.
    const seq: Array<{ body: any; t1: number }> = [];
    for (const action of ['off', 'on', 'status', 'off']) {
      const r = await w.must('inject', { method: 'POST', url: `/api/v1/nodes/${healthy.name}/power`, payload: { action } });
      expect(r.status, action).toBe(200);
      seq.push(r);
    }
    expect(seq.map((r) => r.body.state)).toEqual(['off', 'on', 'on', 'off']);
    expect(seq.every((r) => r.body.reached)).toBe(true);
    expect(sim.power()).toBe(0);
    const deadResults = await Promise.all(deadRuns);
    // Every unreachable BMC ended in an error of its own, after the healthy node's work was done.
    expect(deadResults.every((r) => r.status === 502 && r.body.error === 'bmc.unreachable')).toBe(true);
    const healthyDone = seq.at(-1)!.t1;
    expect(Math.min(...deadResults.map((r) => r.t1))).toBeGreaterThan(healthyDone);
    const faults = await Promise.all(dead.slice(0, 5).map((name) => w.must('inject', { method: 'GET', url: `/api/v1/nodes/${name}/power` })));
    expect(faults.every((f) => f.body.fault_code === 'bmc.unreachable')).toBe(true);
    const h = await w.must('inject', { method: 'GET', url: `/api/v1/nodes/${healthy.name}/power` });
    expect(h.body).toMatchObject({ state: 'off', fault: null });
  });
});
