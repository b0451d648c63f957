/**
 * The Chef role contract, tested by content (Chef is not installable here):
 * for the ntp barclamp's chef role on a ready node, the node object (Chef's
 * node format), environment, solo.rb and cookbook archive served to the
 * node's own agent; then images/join/chef-role.sh run for real against the
 * appliance over HTTP lays them out, checks the archive's sha256 and execs
 * chef-solo with solo.rb (a recording stand-in on PATH).
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { readTar } from '../../src/lib/tar.js';
import { createAppliance, type Appliance } from '../../src/main.js';
import { AgentTokenRepo } from '../../src/store/agent-tokens.js';
import { nextPort } from '../helpers/appliance.js';

const SCRIPT = resolve(import.meta.dirname, '../../images/join/chef-role.sh');
const STATES = ['hardware-installing', 'hardware-installed', 'installing', 'installed', 'readying', 'ready'];

describe('Chef roles', () => {
  let dir: string;
  let app: Appliance;
  let admin: string;
  let nodeName: string;
  let nodeToken: string;
  let other: string;
  let base: string;
  const clock = new ManualClock();

  const api = async (method: string, url: string, payload?: unknown) => {
    const r = await app.http.inject({ method, url, payload: payload as object, headers: { authorization: `Bearer ${admin}` } });
    return { status: r.statusCode, body: r.result as any };
  };
  const asNode = (url: string, token = nodeToken) => app.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crowbar-chef-'));
    const port = nextPort();
    const cfg = buildConfig({
      data_dir: join(dir, 'data'),
      admin_network: { interface: 'lo', address: '127.0.0.1/8', domain: 'crowbar.test' },
      discovery: { image_cache: '' },
      services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { bind: '127.0.0.1', port } },
    });
    app = await createAppliance(cfg, { clock, log: memoryLogger() });
    admin = app.initialAdminToken!;
    const tokens = new AgentTokenRepo(app.db);
    const make = async (mac: string) => {
      const n = app.nodes.create([mac], { domain: 'crowbar.test', inventory: { nics: [{ name: 'eth0', mac, speed_mbps: 1000 }] } });
      for (const s of STATES) await app.nodes.transition(n.name, s, 'test');
      return n;
    };
    const n = await make('52:54:00:00:0c:01');
    nodeName = n.name;
    nodeToken = tokens.issue(n.id, clock.now());
    other = tokens.issue((await make('52:54:00:00:0c:02')).id, clock.now());
    for (const bc of ['crowbar', 'network', 'dns', 'ntp']) {
      expect((await api('POST', `/api/v1/barclamps/${bc}/proposals`, { name: 'default' })).status).toBe(201);
      expect((await api('POST', `/api/v1/barclamps/${bc}/proposals/default/commit`)).body.status).toBe('applied');
    }
    await app.proposals.idle();
    base = `/api/v1/nodes/${nodeName}/chef/ntp/default/ntp-client`;
    await app.http.start();
  }, 60_000);
  afterAll(async () => {
    await app?.http.stop();
    app?.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the node object in Chef node format with the proposal attributes and the recipe run list', async () => {
    const r = await asNode(`${base}/node.json`);
    expect(r.statusCode, r.payload).toBe(200);
    const n = JSON.parse(r.payload);
    expect(n).toMatchObject({ name: nodeName, chef_environment: 'ntp-config-default', json_class: 'Chef::Node', chef_type: 'node', run_list: ['recipe[ntp::default]'], default: {}, override: {}, automatic: {} });
    const rl = (await api('GET', `/api/v1/nodes/${nodeName}/runlist`)).body;
    const entry = rl.roles.find((e: any) => e.barclamp === 'ntp' && e.role === 'ntp-client');
    expect(n.normal.ntp).toEqual(entry.attributes);
    expect(n.normal.crowbar).toMatchObject({ node: nodeName, barclamp: 'ntp', proposal: 'default', role: 'ntp-client', run_list_revision: rl.revision });
    const env = JSON.parse((await asNode(`${base}/environment.json`)).payload);
    expect(env).toMatchObject({ name: 'ntp-config-default', json_class: 'Chef::Environment', chef_type: 'environment' });
  });

  it('serves solo.rb (local mode, paths beside it) and the cookbook archive the run list names by sha256', async () => {
    const solo = (await asNode(`${base}/solo.rb`)).payload;
    for (const l of ['local_mode true', `node_name '${nodeName}'`, "environment 'ntp-config-default'", "cookbook_path [File.join(crowbar_root, 'cookbooks')]", "node_path File.join(crowbar_root, 'nodes')", "environment_path File.join(crowbar_root, 'environments')"]) expect(solo).toContain(l);
    const rl = (await api('GET', `/api/v1/nodes/${nodeName}/runlist`)).body;
    const sha = rl.roles.find((e: any) => e.role === 'ntp-client').chef.cookbooks.sha256;
    const cb = await asNode(`${base}/cookbooks.tar.gz`);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(cb.rawPayload).digest('hex')).toBe(sha);
    const paths = readTar(gunzipSync(cb.rawPayload)).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['cookbooks/ntp/metadata.rb', 'cookbooks/ntp/recipes/default.rb', 'cookbooks/ntp/templates/default/chrony.conf.erb']));
  });

  it('refuses other nodes, non-Chef roles, unknown files and missing credentials', async () => {
    expect((await asNode(`${base}/node.json`, other)).statusCode).toBe(403);
    expect((await asNode(`/api/v1/nodes/${nodeName}/chef/dns/default/dns-client/node.json`)).statusCode).toBe(404);
    expect((await asNode(`${base}/knife.rb`)).statusCode).toBe(404);
    expect((await app.http.inject({ method: 'GET', url: `${base}/node.json` })).statusCode).toBe(401);
  });

  it.runIf(existsSync('/usr/bin/curl'))('chef-role.sh fetches the files, verifies the archive and runs chef-solo -c solo.rb', async () => {
    const work = join(dir, 'node');
    mkdirSync(join(work, 'bin'), { recursive: true });
    writeFileSync(join(work, 'node.conf'), `CROWBAR_NODE=${nodeName}\nCROWBAR_URL=http://127.0.0.1:${app.http.info.port}\n`);
    writeFileSync(join(work, 'node.token'), nodeToken + '\n');
    const rl = (await api('GET', `/api/v1/nodes/${nodeName}/runlist`)).body;
    writeFileSync(join(work, 'entry.json'), JSON.stringify(rl.roles.find((e: any) => e.role === 'ntp-client')));
    // Stand-in for chef-solo: records its arguments and what it finds beside solo.rb.
    writeFileSync(join(work, 'bin', 'chef-solo'), '#!/bin/sh\necho "args: $*"\nd=$(dirname "$2")\nls "$d/nodes" "$d/environments" "$d/cookbooks/ntp/recipes"\n');
    chmodSync(join(work, 'bin', 'chef-solo'), 0o755);
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number; out: string }>((res) =>
        execFile('sh', [SCRIPT, join(work, 'entry.json')], { env: { PATH: `${join(work, 'bin')}:/usr/bin:/bin`, CROWBAR_CONF: join(work, 'node.conf'), CROWBAR_TOKEN_FILE: join(work, 'node.token'), CB_CHEF_ROOT: join(work, 'chef'), ...env } }, (e, out, err) =>
          res({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out: out + err }),
        ),
      );
    const r = await run({});
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`args: -c ${join(work, 'chef', 'solo.rb')}`);
    expect(r.out).toContain(`${nodeName}.json`);
    expect(r.out).toContain('ntp-config-default.json');
    expect(r.out).toContain('default.rb');
    expect(JSON.parse(readFileSync(join(work, 'chef', 'nodes', `${nodeName}.json`), 'utf8')).run_list).toEqual(['recipe[ntp::default]']);
    // A tampered entry (wrong sha256) is refused before chef-solo runs.
    const bad = readFileSync(join(work, 'entry.json'), 'utf8').replace(/"sha256":"[0-9a-f]{64}"/g, `"sha256":"${'0'.repeat(64)}"`);
    writeFileSync(join(work, 'entry.json'), bad);
    const t = await run({});
    expect(t.code).not.toBe(0);
    expect(t.out).toContain('does not match sha256');
  });
});
