/**
 * images/agent/hardware-install.sh under busybox sh: the BMC part against a
 * real ipmi_sim (ipmitool over lanplus standing in for /dev/ipmi0), checked
 * by logging in with the new credentials through our client; the RAID part
 * as a dry run (this kernel has no md driver; the lab VM runs it for real);
 * and the validation failures. The password never appears in the output.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns, createNetnsPair, have, type NetnsPair } from '../helpers/netns.js';
import { startIpmiSim, type IpmiSim } from '../helpers/ipmisim.js';
import { startWorker, type NsWorker } from '../helpers/worker.js';
import { ROOT } from '../helpers/appliance.js';
import { renderHardwareInstall } from '../../src/services/power/instruction.js';

const SCRIPT = join(ROOT, 'images/agent/hardware-install.sh');
const tmp = mkdtempSync(join(tmpdir(), 'crowbar-hwi-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Run the script asynchronously (the test's own HTTP server must keep serving); '' = no file argument. */
function runScriptAsync(instr: string, env: Record<string, string>): Promise<{ status: number | null; stderr: string; stdout: string; result: any }> {
  const args = [SCRIPT];
  if (instr) {
    const file = join(tmp, `instr-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, instr, { mode: 0o600 });
    args.push(file);
  }
  return new Promise((resolve) => {
    const p = spawn('busybox', ['sh', ...args], { env: { PATH: process.env.PATH!, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (status) => {
      const lines = stdout.trim().split('\n');
      resolve({ status, stdout, stderr, result: JSON.parse(lines[lines.length - 1]) });
    });
  });
}

function runScript(instr: string, env: Record<string, string>, ns?: { pair: NetnsPair; name: string }) {
  const file = join(tmp, `instr-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, instr, { mode: 0o600 });
  const cmd = ['busybox', 'sh', SCRIPT, file];
  const full = ns ? ['ip', 'netns', 'exec', ns.name, ...cmd] : cmd;
  const r = spawnSync(full[0], full.slice(1), { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8', timeout: 60_000 });
  const lines = r.stdout.trim().split('\n');
  return { status: r.status, stderr: r.stderr, stdout: r.stdout, result: JSON.parse(lines[lines.length - 1]) };
}

describe.skipIf(!have('busybox'))('hardware-install.sh without hardware', () => {
  it('RAID1 plan (dry run) and BMC plan never print the password', () => {
    const r = runScript('RAID_LEVEL=raid1\nRAID_DISKS=/dev/vda /dev/vdb\nBMC_IP=10.1.2.3\nBMC_NETMASK=255.255.255.0\nBMC_VLAN=200\nBMC_USER=crowbar\nBMC_PASSWORD=Secr3t-Dry-Run\n', { DRY_RUN: '1' });
    expect(r.status).toBe(0);
    expect(r.result).toEqual({ bmc: 'ok', raid: 'ok', bios: 'skipped', error: '' });
    expect(r.stderr).toContain('+ mdadm --create /dev/md/crowbar --run --level=1 --raid-devices=2 --metadata=1.2 --name=crowbar /dev/vda /dev/vdb');
    expect(r.stderr).toContain('+ ipmitool lan set 1 vlan id 200');
    expect(r.stderr).toContain('+ ipmitool user set password 3 *** 16');
    expect(r.stderr + r.stdout).not.toContain('Secr3t-Dry-Run');
  });

  it('reads what the appliance renders', () => {
    const text = renderHardwareInstall({ channel: 2, userId: 4, user: 'crowbar', password: 'AbCdEf123456789x', network: { ip: '10.5.0.20', netmask: '255.255.0.0', gateway: '10.5.0.1', vlan: 'off' }, raid: { level: 'raid1', disks: ['/dev/sda', '/dev/sdb'] } });
    const r = runScript(text, { DRY_RUN: '1' });
    expect(r.result).toEqual({ bmc: 'ok', raid: 'ok', bios: 'skipped', error: '' });
    for (const l of ['+ ipmitool lan set 2 ipaddr 10.5.0.20', '+ ipmitool lan set 2 defgw ipaddr 10.5.0.1', '+ ipmitool lan set 2 vlan id off', '+ ipmitool user set name 4 crowbar', '/dev/sda /dev/sdb'])
      expect(r.stderr).toContain(l);
    expect(() => renderHardwareInstall({ channel: 1, userId: 3, user: 'a', password: 'x\nRAID_LEVEL=raid1' })).toThrow(/printable/);
  });

  it('fetches its instruction from the appliance with the node token (how the agent runs it)', async () => {
    const text = renderHardwareInstall({ channel: 1, userId: 3, user: 'crowbar', password: 'FetchedPassw0rd1', network: { ip: '10.5.0.21', netmask: '255.255.255.0' }, raid: { level: 'raid1', disks: ['/dev/vda', '/dev/vdb'] } });
    const seen: string[] = [];
    const srv = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      if (req.url === '/api/v1/agent/hardware-install' && req.headers.authorization === 'Bearer cbn_node_token') res.end(text);
      else res.writeHead(401).end('{}');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    try {
      const env = { CROWBAR_URL: `http://127.0.0.1:${port}/`, CROWBAR_NODE: 'd1.crowbar.test', DRY_RUN: '1', WGET: 'busybox wget', TMPDIR: tmp };
      const r = await runScriptAsync('', { ...env, CROWBAR_TOKEN: 'cbn_node_token' });
      expect(r.result, r.stderr).toEqual({ bmc: 'ok', raid: 'ok', bios: 'skipped', error: '' });
      expect(r.stderr).toContain('+ ipmitool lan set 1 ipaddr 10.5.0.21');
      expect(r.stderr + r.stdout).not.toContain('FetchedPassw0rd1');
      expect(execFileSync('sh', ['-c', 'ls /tmp/hwinstall.* 2>/dev/null || true'], { encoding: 'utf8' }).trim()).toBe('');
      const bad = await runScriptAsync('', { ...env, CROWBAR_TOKEN: 'wrong' });
      expect(bad.status).toBe(2);
      expect(bad.result).toMatchObject({ bmc: 'failed', error: 'instruction not fetched' });
      expect(seen[0]).toBe('GET /api/v1/agent/hardware-install Bearer cbn_node_token');
    } finally {
      srv.close();
    }
  });

  it('refuses bad instructions with a failed status', () => {
    const cases: Array<[string, Partial<Record<'bmc' | 'raid', string>>]> = [
      ['RAID_LEVEL=raid1\nRAID_DISKS=/dev/vda\n', { raid: 'failed' }],
      ['RAID_LEVEL=raid1\nRAID_DISKS=/dev/vda /dev/vda\n', { raid: 'failed' }],
      ['RAID_LEVEL=raid5\n', { raid: 'failed' }],
      ['BMC_IP=10.1.2.300\nBMC_NETMASK=255.255.255.0\n', { bmc: 'failed' }],
      ['BMC_IP=10.1.2.3\n', { bmc: 'failed' }],
      ['BMC_IP=10.1.2.3\nBMC_NETMASK=255.255.255.0\nBMC_VLAN=5000\n', { bmc: 'failed' }],
      ['BMC_USER=crowbar\n', { bmc: 'failed' }],
      ['BMC_USER=x\nBMC_PASSWORD=p\nBMC_USER_ID=1\n', { bmc: 'failed' }],
      [`BMC_IP=$(touch ${tmp}/pwned)\nBMC_NETMASK=255.0.0.0\nBMC_USER=\`touch ${tmp}/pwned\`\n`, { bmc: 'failed' }],
    ];
    for (const [instr, want] of cases) {
      const r = runScript(instr, { DRY_RUN: '1' });
      expect(r.status, instr).not.toBe(0);
      expect(r.result, instr).toMatchObject(want);
      expect(r.result.error, instr).not.toBe('');
    }
    expect(existsSync(join(tmp, 'pwned'))).toBe(false); // values are never evaluated
  });

  it('no /dev/ipmi0: BMC step fails clearly, RAID step skipped', () => {
    const r = runScript('BMC_IP=10.1.2.3\nBMC_NETMASK=255.255.255.0\n', {});
    if (execFileSync('sh', ['-c', 'ls /dev/ipmi0 2>/dev/null || true'], { encoding: 'utf8' }).trim()) return;
    expect(r.result).toMatchObject({ bmc: 'failed', raid: 'skipped' });
    expect(r.result.error).toMatch(/ipmi0/);
  });
});

describe.skipIf(!canUseNetns() || !have('ipmi_sim') || !have('ipmitool') || !have('busybox'))('hardware-install.sh against ipmi_sim', () => {
  let pair: NetnsPair;
  let sim: IpmiSim;
  let w: NsWorker;
  beforeAll(async () => {
    pair = createNetnsPair();
    sim = await startIpmiSim(pair, pair.srv, pair.srvIp);
    w = await startWorker(pair, pair.cli);
  });
  afterAll(() => {
    w?.stop();
    sim?.stop();
    pair?.cleanup();
  });

  it('sets the BMC address and a new administrator; the appliance logs in with them', async () => {
    const pw = 'HwInst4ll-Pw-16c';
    const r = runScript(
      `BMC_CHANNEL=1\nBMC_IP=10.20.30.40\nBMC_NETMASK=255.255.255.0\nBMC_GATEWAY=10.20.30.1\nBMC_USER_ID=5\nBMC_USER=crowbar\nBMC_PASSWORD=${pw}\nRAID_LEVEL=none\n`,
      { IPMITOOL: `ipmitool -I lanplus -C 3 -H ${sim.host} -U admin -E`, IPMI_PASSWORD: sim.password },
      { pair, name: pair.cli },
    );
    expect(r.result, r.stderr).toEqual({ bmc: 'ok', raid: 'skipped', bios: 'skipped', error: '' });
    expect(r.status).toBe(0);
    expect(r.stderr + r.stdout).not.toContain(pw);
    const [st, lan] = await w.must('client', { target: { host: sim.host, user: 'crowbar', password: pw }, steps: ['status', 'lan'] });
    expect(['on', 'off']).toContain(st);
    expect(lan).toMatchObject({ ip: '10.20.30.40', netmask: '255.255.255.0', gateway: '10.20.30.1', source: 'static' });
  });
});
