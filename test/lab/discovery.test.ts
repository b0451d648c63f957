/**
 * Lab test (end to end, real VMs): qemu machines PXE-boot against the
 * appliance inside the test's own network namespace, run the discovery image
 * and appear as `discovered` with their real MACs, memory, CPU count and disk
 * sizes. Then: rebooted machines reuse their node and admin address, and
 * forged registrations are refused without touching the stored node.
 * Per-phase timings are printed. Runs as root only (CI does).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiscoveryImage, formatPhases, labPossible, newLab, ROOT, SerialWatcher, sleep, type Lab } from './lab.js';

const can = labPossible();

/** The machines of this test: firmware, NIC, memory (MB), CPUs, disk (GiB), power path. */
const VMS = [
  { name: 'vm1', fw: 'bios', nic: 'virtio', mem: 256, cpus: 1, disk: 4, via: 'direct', rom: 'ipxe' },
  { name: 'vm2', fw: 'uefi', nic: 'virtio', mem: 320, cpus: 2, disk: 6, via: 'direct', rom: 'ipxe' },
  { name: 'vm3', fw: 'bios', nic: 'e1000', mem: 288, cpus: 2, disk: 3, via: 'bmc', rom: 'ipxe' },
  // UEFI without an iPXE ROM: OVMF's own PXE client -> TFTP snponly.efi -> iPXE (most real UEFI servers)
  { name: 'vm4', fw: 'uefi', nic: 'virtio', mem: 320, cpus: 1, disk: 2, via: 'direct', rom: 'none' },
] as const;

interface Booted {
  name: string;
  mac: string;
  node: string;
  admin: string;
}

describe.skipIf(!can.ok)('lab: PXE discovery of qemu machines', () => {
  let lab: Lab;
  let token = '';
  const booted = new Map<string, Booted>();

  const macOf = (vm: string): string => /MAC="?([0-9a-f:]+)"?/.exec(readFileSync(join(lab.state, 'vm', vm, 'config'), 'utf8'))![1];
  const serial = (vm: string): string => join(lab.state, 'vm', vm, 'serial.log');
  const nodes = (): any[] => lab.curl('GET', '/api/v1/nodes', { token }).body.nodes;
  const ipmi = (ip: string, ...cmd: string[]): string =>
    execFileSync('ip', ['netns', 'exec', lab.ns, 'ipmitool', '-I', 'lanplus', '-C', '3', '-H', ip, '-U', 'admin', '-P', 'crowbar-lab', ...cmd], { encoding: 'utf8', timeout: 30_000 });

  /** Power machines on and wait until each registered; returns the serial log text of this boot. */
  async function bootAll(names: string[], timeoutMs: number): Promise<Map<string, { phases: SerialWatcher; text: string }>> {
    const out = new Map<string, { phases: SerialWatcher; text: string }>();
    for (const n of names) {
      const vm = VMS.find((v) => v.name === n)!;
      const w = new SerialWatcher(serial(n), Date.now());
      if (vm.via === 'bmc') {
        ipmi(`${lab.net}.${200 + VMS.indexOf(vm)}`, 'chassis', 'bootdev', 'pxe');
        ipmi(`${lab.net}.${200 + VMS.indexOf(vm)}`, 'chassis', 'power', 'on');
      } else {
        lab.run('vm.sh', ['start', n]);
      }
      out.set(n, { phases: w, text: '' });
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const [, s] of out) s.text = s.phases.poll();
      if ([...out.values()].every((s) => s.phases.phases.registered !== undefined)) break;
      await sleep(250);
    }
    for (const [n, s] of out) process.stdout.write(`[lab] ${n}: power-on -> ${formatPhases(s.phases.phases)}\n`);
    return out;
  }

  beforeAll(async () => {
    buildDiscoveryImage();
    lab = newLab();
    token = lab.start();
    VMS.forEach((vm, i) => {
      const opts = ['--fw', vm.fw, '--nic', vm.nic, '--rom', vm.rom, '--mem', String(vm.mem), '--cpus', String(vm.cpus), '--disk', `${vm.disk}G`];
      // the BMC-powered machine also gets an in-band IPMI (KCS) interface to its BMC
      if (vm.via === 'bmc') lab.run('bmc.sh', ['start', vm.name, '--ip', `${lab.net}.${200 + i}`, '--inband', '--', ...opts]);
      else {
        // save the machine's configuration now, power it on in the test
        execFileSync('bash', [join(ROOT, 'lab', 'vm.sh'), 'start', vm.name, ...opts], { env: { ...lab.env, CBLAB_CONFIG_ONLY: '1' } });
      }
    });
  }, 600_000);

  afterAll(() => lab?.teardown(), 120_000);

  it('BIOS and UEFI machines PXE-boot and appear as discovered with their real hardware', async () => {
    const t0 = Date.now();
    const res = await bootAll(
      VMS.map((v) => v.name),
      180_000,
    );
    process.stdout.write(`[lab] ${VMS.length} machines registered within ${((Date.now() - t0) / 1000).toFixed(1)}s of the first power-on\n`);
    const all = nodes();
    for (const vm of VMS) {
      const text = res.get(vm.name)!.text;
      const m = /REGISTERED as (\S+) \(state (\S+), admin address ([0-9.]+)\)/.exec(text);
      expect(m, `${vm.name} did not register; serial tail:\n${text.slice(-2000)}`).not.toBeNull();
      const mac = macOf(vm.name);
      const node = all.find((n) => n.name === m![1]);
      expect(node, `${m![1]} not in the node list`).toBeDefined();
      expect(node.state).toBe('discovered');
      expect(node.name).toBe(`d${mac.replace(/:/g, '-')}.lab.crowbar.test`);
      expect(node.macs[0]).toBe(mac);
      expect(node.inventory.cpu_count).toBe(vm.cpus);
      // MemTotal is RAM minus what firmware and kernel keep: within 25% below the configured size
      expect(node.inventory.memory_kb).toBeLessThanOrEqual(vm.mem * 1024);
      expect(node.inventory.memory_kb).toBeGreaterThan(vm.mem * 1024 * 0.75);
      const disk = node.inventory.disks.find((d: any) => d.serial === `DSK-CB-${vm.name}`);
      expect(disk, JSON.stringify(node.inventory.disks)).toBeDefined();
      expect(disk.size_bytes).toBe(vm.disk * 1024 ** 3);
      expect(node.inventory.firmware).toBe(vm.fw);
      expect(node.inventory.nics.find((n: any) => n.mac === mac)?.driver).toBe(vm.nic === 'virtio' ? 'virtio_net' : 'e1000');
      expect(node.inventory.dmi.product_serial).toBe(`CB-${vm.name}`);
      expect(m![3].startsWith(`${lab.net}.`)).toBe(true);
      booted.set(vm.name, { name: vm.name, mac, node: node.name, admin: m![3] });
      // the agent's log reaches the appliance (shipped right after registering)
      let shipped = false;
      for (let i = 0; i < 60 && !shipped; i++) {
        const log = lab.curl('GET', `/api/v1/nodes/${node.name}/log`, { token });
        expect(log.status).toBe(200);
        shipped = log.body.lines.some((l: any) => /REGISTERED as/.test(l.line));
        if (!shipped) await sleep(500);
      }
      expect(shipped, `agent log of ${node.name} not received`).toBe(true);
    }
    expect(all.length).toBe(VMS.length);
    expect(new Set([...booted.values()].map((b) => b.admin)).size).toBe(VMS.length);
  }, 300_000);

  // Two machines reboot: BIOS through its BMC and UEFI through OVMF's own PXE client (the two
  // known-machine boot paths); all four are checked for duplicates.
  const REBOOT = VMS.filter((v) => v.name === 'vm3' || v.name === 'vm4');
  it('rebooted machines reuse their node and admin address (no duplicates)', async () => {
    expect(booted.size).toBe(VMS.length);
    for (const vm of REBOOT) {
      if (vm.via === 'bmc') ipmi(`${lab.net}.${200 + VMS.indexOf(vm)}`, 'chassis', 'power', 'off');
      else lab.run('vm.sh', ['stop', vm.name]);
    }
    await sleep(500);
    const res = await bootAll(
      REBOOT.map((v) => v.name),
      180_000,
    );
    const all = nodes();
    expect(all.length).toBe(VMS.length);
    for (const vm of VMS) expect(all.filter((n) => n.macs.includes(booted.get(vm.name)!.mac)).length, vm.name).toBe(1);
    for (const vm of REBOOT) {
      const b = booted.get(vm.name)!;
      const text = res.get(vm.name)!.text;
      const m = /REGISTERED as (\S+) \(state (\S+), admin address ([0-9.]+)\)/.exec(text);
      expect(m, `${vm.name} did not register again; serial tail:\n${text.slice(-2000)}`).not.toBeNull();
      expect(m![1]).toBe(b.node);
      expect(m![3]).toBe(b.admin);
      // a known machine now gets its admin address from DHCP, in iPXE and in the image
      expect(text).toContain(`net0: ${b.admin}/`);
      expect(text).toMatch(new RegExp(`lease ${b.admin.replace(/\./g, '\\.')} on`));
      expect(all.filter((n) => n.macs.includes(b.mac)).length).toBe(1);
    }
  }, 300_000);

  it('refuses forged registrations and leaves the existing node intact', () => {
    const victim = booted.get('vm1')!;
    const before = lab.curl('GET', `/api/v1/nodes/${victim.node}`, { token }).body;
    const forged = {
      mac: victim.mac,
      inventory: {
        cpu_count: 64,
        memory_kb: 999_999,
        nics: [{ name: 'eth0', mac: victim.mac }],
        dmi: { product_serial: 'FORGED-1', product_uuid: '99999999-9999-9999-9999-999999999999' },
      },
    };
    const r1 = lab.curl('POST', '/api/v1/discovery', { body: JSON.stringify(forged) });
    expect(r1.status).toBe(409);
    expect(r1.body.message).toMatch(/not the same machine/);
    // a machine claiming MACs of two nodes
    const other = booted.get('vm2')!;
    const r2 = lab.curl('POST', '/api/v1/discovery', {
      body: JSON.stringify({ ...forged, inventory: { ...forged.inventory, nics: [{ name: 'eth0', mac: victim.mac }, { name: 'eth1', mac: other.mac }] } }),
    });
    expect(r2.status).toBe(409);
    // oversized body
    const big = JSON.stringify({ mac: '52:54:00:ff:ff:01', inventory: { cpu_count: 1, memory_kb: 1, cpu_model: 'x', kernel: 'y'.repeat(100), dmi: { a: 'z' }, pad: 'p'.repeat(70_000) } });
    expect(lab.curl('POST', '/api/v1/discovery', { body: big }).status).toBe(413);
    // malformed JSON, wrong types
    expect(lab.curl('POST', '/api/v1/discovery', { body: '{"mac": "52:54:00:ff:ff:02", "inventory": {' }).status).toBe(400);
    expect(lab.curl('POST', '/api/v1/discovery', { body: JSON.stringify({ mac: 'not-a-mac', inventory: { cpu_count: 1, memory_kb: 1 } }) }).status).toBe(400);
    // an agent endpoint without a valid node token
    expect(lab.curl('GET', '/api/v1/agent/next', { token: 'cbn_forged' }).status).toBe(401);
    const after = lab.curl('GET', `/api/v1/nodes/${victim.node}`, { token }).body;
    expect(after.inventory).toEqual(before.inventory);
    expect(after.macs).toEqual(before.macs);
    expect(after.state).toBe(before.state);
    expect(nodes().length).toBe(VMS.length);
  });

  it('an allocated node runs the hardware-install steps; without an in-band BMC it reports problem with the reason', async () => {
    // vm1 has no IPMI device inside the machine, so the BMC step of images/agent/hardware-install.sh
    // (instruction fetched with the node token from /api/v1/agent/hardware-install) must fail,
    // and the agent must report it instead of pretending success.
    const b = booted.get('vm1')!;
    const w = new SerialWatcher(serial('vm1'), Date.now());
    const r = lab.curl('POST', `/api/v1/nodes/${b.node}/transition`, { token, body: JSON.stringify({ to: 'hardware-installing' }) });
    expect(r.status).toBe(200);
    const deadline = Date.now() + 90_000;
    let text = '';
    while (Date.now() < deadline && !/transition -> (problem|hardware-installed)/.test(text)) {
      text = w.poll();
      await sleep(500);
    }
    expect(text, text.slice(-1500)).toMatch(/running hardware-install steps/);
    expect(text).toMatch(/transition -> problem/);
    const node = lab.curl('GET', `/api/v1/nodes/${b.node}`, { token }).body;
    expect(node.state).toBe('problem');
    expect(node.problem_reason).toMatch(/hardware-install failed \(status \d+\): no in-band IPMI device/);
    const events = lab.curl('GET', `/api/v1/nodes/${b.node}/events`, { token }).body.events.map((e: any) => `${e.to_state}:${e.cause}`);
    expect(events).toContain('hardware-installing:api:admin');
    expect(events).toContain('problem:agent');
    // the step's own output reached the node log; the BMC password did not
    let lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      lines = lab.curl('GET', `/api/v1/nodes/${b.node}/log`, { token }).body.lines.map((l: any) => l.line);
      if (lines.some((l) => /\[hardware-install\] error: no in-band IPMI device/.test(l))) break;
      await sleep(500);
    }
    expect(lines.some((l) => /\[hardware-install\] error: no in-band IPMI device/.test(l))).toBe(true);
    expect(lines.join('\n')).not.toMatch(/BMC_PASSWORD/);
    // a node in problem keeps its agent waiting (no reboot)
    expect(lab.run('vm.sh', ['status', 'vm1']).trim()).toBe('on');
  }, 120_000);

  it('an allocated node with an in-band BMC completes hardware-install: BMC address and user configured', async () => {
    const b = booted.get('vm3')!;
    const bmcIp = `${lab.net}.${200 + VMS.findIndex((v) => v.name === 'vm3')}`;
    const w = new SerialWatcher(serial('vm3'), Date.now());
    expect(lab.curl('POST', `/api/v1/nodes/${b.node}/transition`, { token, body: JSON.stringify({ to: 'hardware-installing' }) }).status).toBe(200);
    const deadline = Date.now() + 100_000;
    let text = '';
    while (Date.now() < deadline && !/final action|transition -> problem/.test(text)) {
      text = w.poll();
      await sleep(500);
    }
    const node = lab.curl('GET', `/api/v1/nodes/${b.node}`, { token }).body;
    const log = () => lab.curl('GET', `/api/v1/nodes/${b.node}/log`, { token }).body.lines.map((l: any) => l.line).slice(-30).join('\n');
    expect(node.state, `${node.problem_reason}\n${log()}`).toBe('hardware-installed');
    expect(text, text.slice(-1500)).toMatch(/transition -> hardware-installed/);
    expect(text).toMatch(/appliance says: reboot \(hardware-installed\)/);
    expect(node.bmc_user).toBe('crowbar');
    expect(node.bmc_password_set).toBe(true);
    expect(node.power_driver).toBe('ipmi');
    // ask the BMC itself, over the LAN: the agent configured it from inside the machine, and the
    // lab BMC moved to that address (lab/bmc-lan.sh), as a real one does
    expect(node.bmc_address).not.toBe(bmcIp);
    const lan = ipmi(node.bmc_address, 'lan', 'print', '1');
    expect(lan).toMatch(new RegExp(`^IP Address\\s+: ${node.bmc_address.replace(/\./g, '\\.')}$`, 'm'));
    expect(ipmi(node.bmc_address, 'user', 'list', '1')).toMatch(/^3\s+crowbar\s+.*ADMINISTRATOR/m);
    lab.run('vm.sh', ['wait', 'vm3', '30']);
  }, 150_000);
});
