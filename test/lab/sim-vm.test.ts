/**
 * Lab test (end to end): real and simulated machines on one appliance, as
 * `npm run demo` runs them (issue 12, "virtual racks alongside a few real
 * VMs"). One qemu VM PXE-boots on the lab bridge and is discovered; three
 * simulated machines (lab/sim.sh: `crowbar simulate` inside the lab
 * namespace, relayed DHCP at 127.0.0.10, TFTP, HTTP) are discovered,
 * allocated, installed and join to `ready` on the same appliance. Runs as
 * root only; about a minute under TCG.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiscoveryImage, formatPhases, labPossible, newLab, SerialWatcher, sleep, type Lab } from './lab.js';

const can = labPossible();
const SIM_NODES = 3;

describe.skipIf(!can.ok)('lab: a qemu VM and simulated machines on one appliance', () => {
  let lab: Lab;
  let token = '';

  beforeAll(() => {
    buildDiscoveryImage();
    // CBLAB_SIM=1: the appliance also serves the simulated machines' relay pool (lab/appliance.sh)
    lab = newLab({ CBLAB_SIM: '1' });
    token = lab.start();
  }, 600_000);

  afterAll(() => lab?.teardown(), 120_000);

  it('the VM is discovered and the simulated machines reach ready, side by side', async () => {
    const t0 = Date.now();
    const serial = new SerialWatcher(join(lab.state, 'vm', 'vm1', 'serial.log'), t0);
    lab.run('vm.sh', ['start', 'vm1', '--fw', 'bios', '--nic', 'virtio', '--mem', '256', '--cpus', '1', '--disk', '2G']);
    lab.run('sim.sh', ['start', '--nodes', String(SIM_NODES), '--install-seconds', '1', '--rate', '0', '--deadline-seconds', '200', '--json']);
    const deadline = t0 + 240_000;
    let text = '';
    let simRunning = true;
    while (Date.now() < deadline && (serial.phases.registered === undefined || simRunning)) {
      await sleep(1000);
      text = serial.poll();
      simRunning = lab.run('sim.sh', ['status']).trim() === 'running';
    }
    process.stdout.write(`[lab] vm1: power-on -> ${formatPhases(serial.phases)}\n`);
    process.stdout.write(`[lab] VM registered and simulation finished within ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);

    const simLog = readFileSync(join(lab.state, 'simulate.log'), 'utf8');
    const reportLine = simLog.split('\n').find((l) => l.startsWith('{'));
    expect(reportLine, `no simulation report; simulate.log:\n${simLog.slice(-2000)}`).toBeDefined();
    const report = JSON.parse(reportLine!);
    const errors = report.machines.map((m: any) => `${m.mac} ${m.outcome} ${m.reason} ${m.errors.join('; ')}`).join('\n');
    expect(report.outcomes.ready, errors).toBe(SIM_NODES);

    const m = /REGISTERED as (\S+) \(state (\S+), admin address ([0-9.]+)\)/.exec(text);
    expect(m, `vm1 did not register; serial tail:\n${text.slice(-2000)}`).not.toBeNull();
    expect(m![3].startsWith(`${lab.net}.`)).toBe(true);
    const vmMac = /MAC="?([0-9a-f:]+)"?/.exec(readFileSync(join(lab.state, 'vm', 'vm1', 'config'), 'utf8'))![1];

    // one appliance holds both kinds, each in its expected state
    const nodes: any[] = lab.curl('GET', '/api/v1/nodes', { token }).body.nodes;
    const state = new Map(nodes.map((n) => [n.name, n.state]));
    expect(nodes.length).toBe(1 + SIM_NODES);
    const vm = nodes.find((n) => n.macs.includes(vmMac));
    expect(vm?.name).toBe(m![1]);
    expect(vm?.state).toBe('discovered');
    for (const mr of report.machines) expect(state.get(mr.node), `${mr.node}`).toBe('ready');
    // the simulated machines registered from the relay pool (lab/sim.sh), the VM from the bridge pool
    const sources = new Map<string, string>();
    for (const l of readFileSync(join(lab.state, 'appliance.log'), 'utf8').split('\n')) {
      if (!l.includes('"node discovered"')) continue;
      const e = JSON.parse(l);
      sources.set(e.node, e.source);
    }
    expect(sources.get(vm.name)).toMatch(new RegExp(`^${lab.net.replace(/\./g, '\\.')}\\.`));
    for (const mr of report.machines) {
      expect(sources.get(mr.node)).toMatch(/^127\.0\.128\./);
      // each simulated node: one unbroken chain of transitions through every phase to ready
      const ev: any[] = lab.curl('GET', `/api/v1/nodes/${mr.node}/events`, { token }).body.events;
      ev.sort((a, b) => a.id - b.id);
      for (let i = 1; i < ev.length; i++) expect(ev[i].from_state, `${mr.node} event ${i}`).toBe(ev[i - 1].to_state);
      expect(ev.map((e) => e.to_state)).toEqual(['discovered', 'hardware-installing', 'hardware-installed', 'installing', 'installed', 'readying', 'ready']);
    }
  }, 300_000);
});
