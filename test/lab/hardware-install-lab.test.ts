/**
 * Lab test (end to end, one real VM): a qemu machine with two disks and an
 * in-band IPMI (KCS) interface to its ipmi_sim BMC (UEFI firmware) PXE-boots against the
 * appliance, is discovered, and goes discovered -> hardware-installing ->
 * hardware-installed through the appliance's state machine:
 *  - the discovery agent sets the BMC's LAN address (the node's `bmc` network
 *    allocation) and the generated administrator in-band; the lab BMC moves
 *    to that address (lab/bmc-lan.sh) and no longer answers at the old one;
 *  - it builds a RAID1 over both disks from the raid proposal listing the node,
 *    and reorders the UEFI boot entries (OVMF variables, efibootmgr) from the
 *    bios proposal;
 *  - the appliance verifies the BMC over the LAN with the new credentials (the
 *    `boot-device pxe` effect of hardware-installed);
 *  - the appliance then powers the machine on and off through its API, at
 *    the new BMC address, observed on the qemu process.
 * Runs as root only (CI does). About 2-3 minutes under TCG.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/lib/secret-box.js';
import { BmcSecretBox } from '../../src/services/power/credentials.js';
import { buildDiscoveryImage, labPossible, newLab, SerialWatcher, sleep, type Lab } from './lab.js';

const can = labPossible();
const VM = 'hw1';

describe.skipIf(!can.ok)('lab: hardware-install of a VM with an in-band BMC and two disks', () => {
  let lab: Lab;
  let token = '';
  let oldBmc = '';
  const t0 = Date.now();
  const mark = (what: string) => process.stdout.write(`[lab-hw] ${((Date.now() - t0) / 1000).toFixed(1)}s ${what}\n`);

  const ipmitool = (host: string, user: string, password: string, args: string[], timeoutMs = 30_000): string =>
    execFileSync('ip', ['netns', 'exec', lab.ns, 'ipmitool', '-I', 'lanplus', '-C', '3', '-H', host, '-U', user, '-E', ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      env: { ...process.env, IPMI_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const vmStatus = (): string => lab.run('vm.sh', ['status', VM]).trim();
  const qemuPid = (): number | null => {
    try {
      const p = Number(readFileSync(join(lab.state, 'vm', VM, 'qemu.pid'), 'utf8').trim());
      return p > 0 ? p : null;
    } catch {
      return null;
    }
  };
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  const node = (name: string): any => lab.curl('GET', `/api/v1/nodes/${name}`, { token }).body;
  const logLines = (name: string): string[] => lab.curl('GET', `/api/v1/nodes/${name}/log?limit=2000`, { token }).body.lines.map((l: any) => l.line);

  beforeAll(async () => {
    // CROWBAR_DISCOVERY_CACHE: a private image cache (parallel worktrees share the default one)
    const cache = process.env.CROWBAR_DISCOVERY_CACHE;
    buildDiscoveryImage(cache);
    lab = newLab();
    if (cache) lab.env.CBLAB_IMAGE = join(cache, 'image');
    token = lab.start();
    oldBmc = `${lab.net}.200`;
    // UEFI (OVMF): its variables are real, so the bios step can reorder the UEFI boot entries
    lab.run('bmc.sh', ['start', VM, '--ip', oldBmc, '--inband', '--', '--fw', 'uefi', '--mem', '320', '--disk', '512M', '--disks', '2']);
    mark('lab up');
  }, 600_000);

  afterAll(() => {
    if (!lab) return;
    try {
      process.stdout.write(`[lab-hw] appliance log tail:\n${readFileSync(join(lab.state, 'appliance.log'), 'utf8').split('\n').slice(-12).join('\n')}\n`);
    } catch {
      /* no log */
    }
    lab.down();
  }, 120_000);

  it('discovered -> hardware-installing -> hardware-installed: BMC moved with new credentials, RAID1 built, then power off/on over IPMI at the new address', async () => {
    // 1. power on through the lab BMC at its factory address; the machine PXE-boots and registers
    ipmitool(oldBmc, 'admin', 'crowbar-lab', ['chassis', 'bootdev', 'pxe']);
    ipmitool(oldBmc, 'admin', 'crowbar-lab', ['chassis', 'power', 'on']);
    const serial = new SerialWatcher(join(lab.state, 'vm', VM, 'serial.log'), Date.now());
    let text = '';
    for (let i = 0; i < 480 && serial.phases.registered === undefined; i++) {
      text = serial.poll();
      await sleep(250);
    }
    const reg = /REGISTERED as (\S+) \(state (\S+)/.exec(text);
    expect(reg, `no registration; serial tail:\n${text.slice(-2000)}`).not.toBeNull();
    const name = reg![1];
    expect(node(name).state).toBe('discovered');
    mark(`discovered as ${name}`);

    // 2. the raid barclamp: a proposal listing the node, RAID1 over both virtio disks
    expect(lab.curl('POST', '/api/v1/barclamps/raid/proposals', { token, body: JSON.stringify({ name: 'lab' }) }).status).toBe(201);
    const doc = lab.curl('GET', '/api/v1/barclamps/raid/proposals/lab', { token }).body.proposal;
    doc.attributes.raid = { level: '1', disks: ['/dev/vda', '/dev/vdb'], apply: true };
    doc.deployment.raid.elements = { 'raid-configure': [name] };
    const put = lab.curl('PUT', '/api/v1/barclamps/raid/proposals/lab', { token, body: JSON.stringify(doc) });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    // the bios barclamp: disk entries before network ones (efibootmgr), the boot mode checked,
    // and a vendor-only key that this machine cannot apply (reported, not failed)
    expect(lab.curl('POST', '/api/v1/barclamps/bios/proposals', { token, body: JSON.stringify({ name: 'lab' }) }).status).toBe(201);
    const bdoc = lab.curl('GET', '/api/v1/barclamps/bios/proposals/lab', { token }).body.proposal;
    bdoc.attributes.bios = { tool: '', settings: ['BootMode=Uefi', 'UefiBootOrder=disk,network', 'Virtualization=Enabled'] };
    bdoc.deployment.bios.elements = { 'bios-set': [name] };
    const bput = lab.curl('PUT', '/api/v1/barclamps/bios/proposals/lab', { token, body: JSON.stringify(bdoc) });
    expect(bput.status, JSON.stringify(bput.body)).toBe(200);

    // 3. allocate: the waiting agent runs hardware-install.sh, posts hardware-installed and reboots (= qemu exits)
    const hw = new SerialWatcher(join(lab.state, 'vm', VM, 'serial.log'), Date.now());
    expect(lab.curl('POST', `/api/v1/nodes/${name}/transition`, { token, body: JSON.stringify({ to: 'hardware-installing' }) }).status).toBe(200);
    const tHw = Date.now();
    let n: any;
    for (let i = 0; i < 240; i++) {
      text = hw.poll();
      n = node(name);
      if (n.state !== 'hardware-installing' && vmStatus() === 'off') break;
      await sleep(500);
    }
    const lines = logLines(name);
    expect(n.state, `${n.problem_reason}\n${lines.slice(-40).join('\n')}\n${text.slice(-1500)}`).toBe('hardware-installed');
    mark(`hardware-installed ${((Date.now() - tHw) / 1000).toFixed(1)}s after allocation`);
    expect(text).toMatch(/transition -> hardware-installed/);
    const events = lab.curl('GET', `/api/v1/nodes/${name}/events`, { token }).body.events.map((e: any) => e.to_state);
    expect(events).toEqual(expect.arrayContaining(['discovered', 'hardware-installing', 'hardware-installed']));

    // RAID1 across the two disks, from the agent's own report (mdadm + /proc/mdstat inside the VM)
    const log = lines.join('\n');
    expect(log).toMatch(/\{"bmc":"ok","raid":"ok","bios":"partial","error":""\}/);
    expect(log).toMatch(/md\d+ : active (\(auto-read-only\) )?raid1 vd[ab]\[\d\] vd[ab]\[\d\]/);
    expect(log).toMatch(/mdadm: array \/dev\/md\/crowbar started/);

    // BIOS: UEFI boot order rewritten through the firmware's variables and read back; the boot mode
    // matched; the vendor-only key reported as unsupported
    expect(log).toMatch(/bios: BootMode=Uefi \(already\)/);
    const before = /bios: BootOrder before: ([0-9A-F,]+)/.exec(log);
    const after = /bios: BootOrder after: ([0-9A-F,]+)/.exec(log);
    expect(before && after, log.slice(-3000)).toBeTruthy();
    expect(after![1]).not.toBe(before![1]);
    const first = after![1].split(',')[0];
    expect(log).toMatch(new RegExp(`bios:   Boot${first}\\* UEFI Misc Device`));
    expect(log).toMatch(/Virtualization=Enabled unsupported here/);

    // 4. the BMC: at the allocated address, with the generated credentials, and not at the old address
    expect(n.bmc_address).toBeTruthy();
    expect(n.bmc_address).not.toBe(oldBmc);
    expect(n.bmc_user).toBe('crowbar');
    expect(n.power_driver).toBe('ipmi');
    const db = new Database(join(lab.state, 'appliance', 'crowbar.db'), { readonly: true, fileMustExist: true });
    const row = db.prepare('SELECT id, bmc_password_enc FROM nodes WHERE name = ?').get(name) as { id: number; bmc_password_enc: string };
    db.close();
    const password = new BmcSecretBox(new SecretBox(readFileSync(join(lab.state, 'appliance', 'keys', 'bmc.key')))).decrypt(row.id, row.bmc_password_enc);
    expect(log).not.toContain(password);
    const lan = ipmitool(n.bmc_address, 'crowbar', password, ['lan', 'print', '1']);
    expect(lan).toMatch(new RegExp(`^IP Address\\s+: ${n.bmc_address.replace(/\./g, '\\.')}$`, 'm'));
    expect(lan).toMatch(/^IP Address Source\s+: Static Address$/m);
    expect(ipmitool(n.bmc_address, 'crowbar', password, ['user', 'list', '1'])).toMatch(/^3\s+crowbar\s+.*ADMINISTRATOR/m);
    expect(() => ipmitool(oldBmc, 'admin', 'crowbar-lab', ['-N', '1', '-R', '1', 'chassis', 'power', 'status'], 15_000)).toThrow();
    expect(lab.run('bmc.sh', ['status', VM]).trim()).toBe(`running ${n.bmc_address}`);

    // 5. the appliance verified the BMC over the LAN with the new credentials on entering hardware-installed
    let pw: any;
    for (let i = 0; i < 40; i++) {
      pw = lab.curl('GET', `/api/v1/nodes/${name}/power`, { token }).body;
      if (pw.requests?.some((r: any) => r.requested_by === 'lifecycle')) break;
      await sleep(500);
    }
    const verify = pw.requests.find((r: any) => r.requested_by === 'lifecycle' && /^bootdev pxe/.test(r.action));
    expect(verify, JSON.stringify(pw)).toBeDefined();
    expect(verify.outcome).toBe('done');
    expect(pw.fault_code).toBeNull();

    // 6. power on and off through the appliance's API (our RMCP+ client -> new address -> ipmi_sim -> qemu)
    expect(vmStatus()).toBe('off');
    const on = lab.curl('POST', `/api/v1/nodes/${name}/power`, { token, body: JSON.stringify({ action: 'on' }) });
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect(on.body).toMatchObject({ action: 'on', driver: 'ipmi', state: 'on', reached: true });
    let pid: number | null = null;
    for (let i = 0; i < 40 && !(pid && alive(pid)); i++) {
      await sleep(250);
      pid = qemuPid();
    }
    expect(pid && alive(pid)).toBe(true);
    expect(vmStatus()).toBe('on');
    mark(`powered on over IPMI at ${n.bmc_address}: qemu pid ${pid}`);
    await sleep(3000); // let the machine run a moment (it PXE-boots the OS-install group)
    const off = lab.curl('POST', `/api/v1/nodes/${name}/power`, { token, body: JSON.stringify({ action: 'off' }) });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body).toMatchObject({ action: 'off', driver: 'ipmi', state: 'off', reached: true });
    for (let i = 0; i < 20 && alive(pid!); i++) await sleep(250);
    expect(alive(pid!)).toBe(false);
    expect(vmStatus()).toBe('off');
    const status = lab.curl('POST', `/api/v1/nodes/${name}/power`, { token, body: JSON.stringify({ action: 'status' }) });
    expect(status.body).toMatchObject({ state: 'off' });
    // the BMC's own record: the chassis commands came in after the address moved
    const chassis = readFileSync(join(lab.state, 'bmc', VM, 'chassis.log'), 'utf8');
    expect(chassis).toMatch(/set power 1[\s\S]*set power 0/);
    mark('powered off over IPMI');
  }, 420_000);
});
