/**
 * Lab test (end to end, a real VM): image-based install (docs/image-install.md).
 * One qemu machine (with a simulated BMC, in-band KCS) powers on over IPMI, PXE-boots the discovery image, is discovered,
 * allocated (hardware-install), writes the Debian 12 root image served by the
 * appliance, reboots to its disk (PXE -> local.ipxe -> sanboot), and its join
 * agent applies the run list (crowbar, network, dns, ntp, provisioner roles)
 * -> ready; then the queued nagios proposal (server + client on the node) is
 * applied and the server role's output lists the node. A broken nagios
 * proposal leaves the node in `problem` with the role's output in its log;
 * the fixed proposal, committed again, brings it back to `ready` without a
 * reinstall. Per-phase timings are printed. Root only (CI runs it).
 *
 * CROWBAR_DISCOVERY_CACHE: build cache of images/build-discovery.sh (default
 * /var/cache/crowbar/discovery); the root image comes from
 * images/build-root-image.sh (CROWBAR_ROOT_IMAGE_CACHE, default /var/cache/crowbar/root-image).
 * CROWBAR_INSTALL_FW=uefi: OVMF instead of SeaBIOS (local boot through `exit 1`).
 * CROWBAR_INSTALL_RAID=1: two disks and a raid proposal (level 1, apply) listing the
 * node: hardware-install builds the array, the image install puts the root on a
 * RAID 1 of both disks, the installed system boots from it, and the raid role
 * leaves the running array alone.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiscoveryImage, formatPhases, labPossible, newLab, ROOT, SerialWatcher, sleep, type Lab } from './lab.js';

const can = labPossible();
const DISCOVERY_CACHE = process.env.CROWBAR_DISCOVERY_CACHE || '/var/cache/crowbar/discovery';
const ROOT_IMAGE_CACHE = process.env.CROWBAR_ROOT_IMAGE_CACHE || '/var/cache/crowbar/root-image';
const OS = 'debian-12-amd64-image';
const FW = (process.env.CROWBAR_INSTALL_FW as 'bios' | 'uefi' | undefined) || 'bios';
const RAID = process.env.CROWBAR_INSTALL_RAID === '1';
/** The install agent's last line on success. */
const DONE = RAID ? /image-install: done on \/dev\/md0 \(raid1 \/dev\/vda \/dev\/vdb\)/ : /image-install: done on \/dev\/vda/;

describe.skipIf(!can.ok)('lab: image-based install of Debian 12 to ready', () => {
  let lab: Lab;
  let token = '';
  let node = '';
  const seen = new Map<string, number>();
  let t0 = 0;
  let watcher: SerialWatcher | null = null;

  const api = (method: string, path: string, body?: unknown) => lab.curl(method, path, { token, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const nodeView = (): any => api('GET', `/api/v1/nodes/${node}`).body;
  const logLines = (): string[] => api('GET', `/api/v1/nodes/${node}/log?limit=10000`).body.lines.map((l: any) => l.line);
  const serialFile = (): string => join(lab.state, 'vm', 'vm1', 'serial.log');
  const ipmi = (...cmd: string[]): string =>
    execFileSync('ip', ['netns', 'exec', lab.ns, 'ipmitool', '-I', 'lanplus', '-C', '3', '-H', `${lab.net}.200`, '-U', 'admin', '-P', 'crowbar-lab', ...cmd], { encoding: 'utf8', timeout: 30_000 });

  /** Poll the node until `pred` holds; records the first time each state is seen. */
  async function waitFor(what: string, pred: (n: any) => boolean, timeoutMs: number): Promise<any> {
    const end = Date.now() + timeoutMs;
    let n: any = null;
    while (Date.now() < end) {
      watcher?.poll();
      if (node) {
        n = nodeView();
        if (n?.state && !seen.has(n.state)) seen.set(n.state, Date.now());
        if (n && pred(n)) return n;
      }
      await sleep(1000);
    }
    let serial = '';
    try {
      serial = readFileSync(serialFile(), 'latin1').slice(-4000);
    } catch {
      /* none */
    }
    let log: string[] = [];
    try {
      log = logLines().slice(-40);
    } catch {
      /* none */
    }
    throw new Error(`timed out waiting for ${what}; node: ${JSON.stringify(n)?.slice(0, 600)}\nnode log:\n${log.join('\n')}\nserial tail:\n${serial}`);
  }

  function ensureCommitted(bc: string, edit?: (doc: any) => void): any {
    const c = api('POST', `/api/v1/barclamps/${bc}/proposals`, { name: 'default' });
    expect([200, 201, 409], JSON.stringify(c.body)).toContain(c.status);
    if (edit) {
      const doc = api('GET', `/api/v1/barclamps/${bc}/proposals/default`).body.proposal;
      edit(doc);
      const e = api('PUT', `/api/v1/barclamps/${bc}/proposals/default`, doc);
      expect(e.status, JSON.stringify(e.body)).toBe(200);
    }
    const r = api('POST', `/api/v1/barclamps/${bc}/proposals/default/commit`);
    expect(r.status, `${bc}: ${JSON.stringify(r.body)}`).toBe(200);
    return r.body;
  }

  beforeAll(async () => {
    buildDiscoveryImage(DISCOVERY_CACHE, 900_000);
    execFileSync('bash', [join(ROOT, 'images', 'build-root-image.sh'), '--cache', ROOT_IMAGE_CACHE], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 1_800_000 });
    lab = newLab();
    lab.env.CBLAB_IMAGE = join(DISCOVERY_CACHE, 'image');
    lab.env.CBLAB_ROOT_IMAGE = join(ROOT_IMAGE_CACHE, 'image');
    token = lab.start();
    // the appliance imports the root image (a copy) at start
    for (let i = 0; i < 120; i++) {
      const os = api('GET', '/api/v1/os').body.os as any[];
      if (os.some((m) => m.name === OS)) break;
      await sleep(1000);
    }
    expect((api('GET', '/api/v1/os').body.os as any[]).map((m) => m.name)).toContain(OS);
    // The proposals an installed node joins (their `installed` hooks) and the provisioner's default_os.
    ensureCommitted('crowbar');
    // This VM has no BMC: without a bmc network the hardware-install instruction is empty (both steps skipped).
    ensureCommitted('network', (doc) => {
      delete doc.attributes.network.networks.bmc;
      doc.attributes.network.node_networks = (doc.attributes.network.node_networks ?? []).filter((n: string) => n !== 'bmc');
    });
    for (const bc of ['dns', 'ntp', 'deployer']) ensureCommitted(bc);
    ensureCommitted('provisioner', (doc) => {
      doc.attributes.provisioner.default_os = 'debian-12';
    });
    // The machine and its BMC (in-band KCS: hardware-install sets the BMC user through /dev/ipmi0).
    // raid (requires ipmi): an ipmi proposal without nodes keeps the BMC as the lab set it
    if (RAID) ensureCommitted('ipmi');
    lab.run('bmc.sh', ['start', 'vm1', '--ip', `${lab.net}.200`, '--inband', '--', '--fw', FW, '--mem', '768', '--disk', '4G', ...(RAID ? ['--disks', '2'] : []), '--reboot']);
  }, 2_400_000);

  afterAll(() => lab?.teardown(), 120_000);

  it('power-on -> discovered -> hardware-installed -> image install -> reboot to disk -> join -> ready, nagios applied', async () => {
    t0 = Date.now();
    const w = new SerialWatcher(serialFile(), t0);
    watcher = w;
    ipmi('chassis', 'bootdev', 'pxe');
    ipmi('chassis', 'power', 'on');
    const mac = /MAC="?([0-9a-f:]+)"?/.exec(readFileSync(join(lab.state, 'vm', 'vm1', 'config'), 'utf8'))![1];
    node = `d${mac.replace(/:/g, '-')}.lab.crowbar.test`;
    await waitFor('discovered', (n) => n.state === 'discovered', 180_000);
    w.poll();
    process.stdout.write(`[lab] vm1 (${FW}): power-on -> ${formatPhases(w.phases)}\n`);
    // The nagios proposal: server and client on this node; queued until the node is ready.
    const nag = ensureCommitted('nagios', (doc) => {
      doc.deployment.nagios.elements = { 'nagios-server': [node], 'nagios-client': [node] };
    });
    expect(nag.status).toBe('queued');
    if (RAID) {
      // RAID 1 over both disks: built by hardware-install, then the root's layout; the commit waits for ready
      const r = ensureCommitted('raid', (doc) => {
        doc.attributes.raid = { level: '1', disks: ['/dev/vda', '/dev/vdb'], apply: true };
        doc.deployment.raid.elements = { 'raid-configure': [node] };
      });
      expect(r.status).toBe('queued');
    }
    // allocate: the hardware-install phase, then the image install follows on its own
    const tr = api('POST', `/api/v1/nodes/${node}/transition`, { to: 'hardware-installing' });
    expect(tr.status, JSON.stringify(tr.body)).toBe(200);
    // RAID 1: the image goes to both disks and the initramfs is rebuilt (under TCG on a loaded box, minutes)
    await waitFor('ready', (n) => n.state === 'ready', RAID ? 1_500_000 : 900_000);
    const ready1 = Date.now();
    // the nagios proposal is released on ready; the join agent applies it (ready -> applying -> ready)
    await waitFor('nagios applied', () => {
      const p = api('GET', '/api/v1/barclamps/nagios/proposals/default').body;
      const st = p?.applied?.deployment?.nagios?.element_states ?? {};
      return st['nagios-server']?.[node] === 'ready' && st['nagios-client']?.[node] === 'ready' && nodeView().state === 'ready';
    }, 300_000);
    const done = Date.now();
    const lines = logLines();
    const text = lines.join('\n');
    // the image was written once, the system booted from disk (boot group local), the join ran the roles
    expect(lines.filter((l) => DONE.test(l)).length, text.slice(-3000)).toBe(1);
    expect(text).toMatch(/\[nagios\.nagios-server\] nagios-server: 1 host\(s\)/);
    expect(text).toMatch(/\[nagios\.nagios-client\] nagios-client: monitored by \d+\.\d+\.\d+\.\d+/);
    for (const r of ['crowbar-node', 'network', 'dns-client', 'ntp-client', 'provisioner-base', 'deployer-client']) expect(text).toMatch(new RegExp(`role [a-z]+/default/${r}: ok`));
    const serial = readFileSync(serialFile(), 'latin1');
    // after the install the machine booted from its disk: the local-boot script, then the installed system's join agent
    expect(serial).toContain(`Crowbar: ${node} boots from its local disk`);
    expect(serial).toMatch(/\[crowbar-join [0-9:]+\] start: node/);
    expect(api('GET', `/boot/node/${mac}.ipxe`).body).toContain('local');
    if (RAID) {
      expect(text).toMatch(/"raid":"ok"/);
      // the installed system assembled the array its root is on
      const booted = serial.slice(serial.lastIndexOf(`Crowbar: ${node} boots from its local disk`));
      expect(booted).toMatch(/md\/raid1:md\d+: active with 2 out of 2 mirrors/);
      await waitFor('raid role applied', () => api('GET', '/api/v1/barclamps/raid/proposals/default').body?.applied?.deployment?.raid?.element_states?.['raid-configure']?.[node] === 'ready', 300_000);
      expect(logLines().join('\n')).toMatch(/raid-configure: \/dev\/vda \/dev\/vdb already in an active array, nothing to do/);
    }
    process.stdout.write(`[lab] image install:\n${lines.filter((l) => /image-install: (partitioned|image written|ESP formatted|done)/.test(l)).join('\n')}\n`);
    const at = (s: string) => (seen.has(s) ? ((seen.get(s)! - t0) / 1000).toFixed(0) + 's' : 'n/a');
    process.stdout.write(
      `[lab] phases (s since power-on): registered ${w.phases.registered ? ((w.phases.registered - t0) / 1000).toFixed(0) + 's' : 'n/a'}, discovered ${at('discovered')}, ` +
        `hardware-installing ${at('hardware-installing')}, hardware-installed ${at('hardware-installed')}, installing ${at('installing')}, installed ${at('installed')}, ` +
        `readying ${at('readying')}, ready ${((ready1 - t0) / 1000).toFixed(0)}s, nagios applied ${((done - t0) / 1000).toFixed(0)}s\n`,
    );
  }, RAID ? 2_400_000 : 1_500_000);

  it('a failing role leaves the node in problem with its log; the fixed proposal brings it back to ready without reinstalling', async () => {
    expect(node).not.toBe('');
    const before = logLines().filter((l) => /image-install: done/.test(l)).length;
    // break the nagios server role: its config directory cannot be created
    const broken = ensureCommitted('nagios', (doc) => {
      doc.attributes.nagios.conf_dir = '/proc/crowbar-no-such-dir';
    });
    expect(broken.status).toBe('applied');
    const p = await waitFor('problem', (n) => n.state === 'problem', 300_000);
    // one retry (recovering) before problem; the reason names the role
    const ev = api('GET', `/api/v1/nodes/${node}/events`).body.events as any[];
    expect(ev.some((e) => e.to_state === 'recovering')).toBe(true);
    expect(p.problem_reason).toMatch(/^role nagios-server \(barclamp nagios, status \d+\)/);
    const text = logLines().join('\n');
    expect(text).toMatch(/\[nagios\.nagios-server\] .*crowbar-no-such-dir/);
    expect(text).toMatch(/role nagios\/default\/nagios-server: FAILED/);
    // fix and commit again: a node in problem does not block the commit; the join agent re-applies
    const fixed = ensureCommitted('nagios', (doc) => {
      doc.attributes.nagios.conf_dir = '/etc/nagios4/conf.d';
    });
    expect(fixed.status).toBe('applied');
    const t1 = Date.now();
    await waitFor('ready after the fix', (n) => n.state === 'ready', 300_000);
    process.stdout.write(`[lab] problem -> ready after the fixed commit in ${((Date.now() - t1) / 1000).toFixed(0)}s\n`);
    const after = logLines();
    // the join agent's timeline (each application of the run list, its roles and transitions)
    process.stdout.write(`[lab] join agent:\n${after.filter((l) => /\[crowbar-join [0-9:]+\] (applying|transition|role )/.test(l)).join('\n')}\n`);
    // no reinstall: still one image write, and the last server run lists the node again
    expect(after.filter((l) => /image-install: done/.test(l)).length).toBe(before);
    expect(after.filter((l) => /\[nagios\.nagios-server\] nagios-server: 1 host\(s\)/.test(l)).length).toBeGreaterThanOrEqual(2);
  }, 900_000);
});
