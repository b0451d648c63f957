/**
 * Lab test (real VM, real installer): a qemu machine whose node is
 * hardware-installed with a Debian 12 medium PXE-boots, iPXE loads the real
 * debian-installer netboot kernel and initrd from /os/, and d-i fetches its
 * preseed from the install-token URL on its kernel command line: the node
 * moves to `installing`. (The medium's package tree is synthetic, so the
 * install itself cannot proceed past the mirror; the lab has no Debian
 * mirror.) Under TCG on a loaded 2-core host d-i reaches the preseed fetch in
 * about 8 minutes (490 s in the one unattended run here). Runs as root only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiscoveryImage, labPossible, newLab, ROOT, sleep, type Lab } from './lab.js';

const NETBOOT = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
const can = labPossible();

// Slow (minutes of d-i under TCG): outside the default `npm test`; run with `npm run test:lab:slow`.
const slow = process.env.CROWBAR_SLOW_LAB === '1';

describe.skipIf(!can.ok || !existsSync(NETBOOT) || !slow)('lab: a machine boots the real Debian 12 installer with its preseed URL', () => {
  let lab: Lab;
  let token = '';

  beforeAll(async () => {
    buildDiscoveryImage();
    lab = newLab();
    token = lab.start();
    execFileSync('bash', [join(ROOT, 'lab', 'vm.sh'), 'start', 'inst1', '--mem', '1024', '--disk', '4G'], { env: { ...lab.env, CBLAB_CONFIG_ONLY: '1' } });
  }, 600_000);

  afterAll(() => lab?.teardown(12), 120_000);

  it('d-i fetches the preseed and the node is installing', async () => {
    const mac = /MAC="?([0-9a-f:]+)"?/.exec(readFileSync(join(lab.state, 'vm', 'inst1', 'config'), 'utf8'))![1];
    const created = lab.curl('POST', '/api/v1/nodes', { token, body: JSON.stringify({ macs: [mac] }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const name = created.body.name as string;
    for (const to of ['hardware-installing', 'hardware-installed']) expect(lab.curl('POST', `/api/v1/nodes/${name}/transition`, { token, body: JSON.stringify({ to }) }).status).toBe(200);
    // A Debian 12 tree (synthetic packages) + the real netboot kernel/initrd.
    const tree = join(lab.state, 'debian-tree');
    for (const [p, b] of Object.entries({ '.disk/info': 'Debian GNU/Linux 12.11.0 "Bookworm" - Official amd64 NETINST', 'dists/bookworm/Release': 'Codename: bookworm\n' })) {
      mkdirSync(dirname(join(tree, p)), { recursive: true });
      writeFileSync(join(tree, p), b);
    }
    const imp = lab.curl('POST', '/api/v1/os', { token, body: JSON.stringify({ path: tree }) });
    expect(imp.status, JSON.stringify(imp.body)).toBe(201);
    expect(lab.curl('PUT', `/api/v1/nodes/${name}/os`, { token, body: JSON.stringify({ os: 'debian-12' }) }).status).toBe(200);
    const t0 = Date.now();
    lab.run('vm.sh', ['start', 'inst1']);
    let state = '';
    while (Date.now() - t0 < 840_000) {
      state = lab.curl('GET', `/api/v1/nodes/${name}`, { token }).body.state;
      if (state === 'installing') break;
      await sleep(2000);
    }
    process.stdout.write(`[lab] inst1: power-on -> preseed fetched (installing) in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    expect(state).toBe('installing');
    const events = lab.curl('GET', `/api/v1/nodes/${name}/events`, { token }).body;
    expect(JSON.stringify(events)).toContain('installer fetched its preseed config');
  }, 900_000);
});
