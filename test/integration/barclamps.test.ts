/**
 * Barclamps in a running appliance process (`crowbar serve`): the CLI
 * creates, installs, upgrades and uninstalls a barclamp without a restart;
 * hostile archives are refused with nothing written; allocations stay
 * unique under 50 concurrent API calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { ROOT, removeDataDir, startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { writeTar } from '../../src/lib/tar.js';
import { openDatabase } from '../../src/store/db.js';
import { packDirectory } from '../../src/barclamps/bundle.js';
import { createSkeleton } from '../../src/barclamps/skeleton.js';
import { NodeRepo } from '../../src/store/nodes.js';

let app: RunningAppliance;
let work: string;

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    execFile(join(ROOT, 'bin/crowbar'), args, { env: { ...process.env, CROWBAR_URL: app.baseUrl, CROWBAR_DATA_DIR: app.dataDir, CROWBAR_FROM_SOURCE: '1' } }, (e, out, err) =>
      res({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

async function upload(data: Buffer, token?: string | null): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/gzip' };
  const t = token === undefined ? app.token : token;
  if (t) headers.authorization = `Bearer ${t}`;
  const r = await fetch(`${app.baseUrl}/api/v1/barclamps`, { method: 'POST', headers, body: new Uint8Array(data) });
  return { status: r.status, body: await r.json() };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cb-bcint-'));
  app = await startAppliance();
});
afterAll(async () => {
  await app?.stop();
  if (app) removeDataDir(app.dataDir);
  rmSync(work, { recursive: true, force: true });
});

describe('barclamp life cycle in a running appliance', () => {
  it('create -> install -> propose/commit -> upgrade with migration -> uninstall, without restart', async () => {
    const pid = app.proc.pid;
    let r = await cli(['barclamp', 'create', 'my-app', 'ACME', work]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/contains a hyphen/);
    r = await cli(['barclamp', 'create', 'my_app', 'ACME', work]);
    expect(r.code).toBe(0);
    const dir = join(work, 'my_app');
    expect(existsSync(join(dir, 'crowbar.yml'))).toBe(true);

    r = await cli(['barclamp', 'install', dir]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^installed my_app 0.1.0 sha256:[0-9a-f]{64}/);
    const sha = /sha256:([0-9a-f]{64})/.exec(r.out)![1];
    expect(existsSync(join(app.dataDir, 'barclamps/my_app/crowbar.yml'))).toBe(true);
    r = await cli(['barclamp', 'list']);
    expect(r.out).toMatch(/my_app\s+0.1.0\s+2000\s+installed\s+crowbar/);
    const shown = await app.api('/api/v1/barclamps/my_app');
    expect(shown.body).toMatchObject({ name: 'my_app', source: 'installed', sha256: sha, roles: ['my-app-server', 'my-app-client'] });

    // Proposals through the CLI; commit waits for crowbar's proposal.
    expect((await cli(['my_app', 'proposal', 'create', 'default'])).out).toMatch(/created bc-my_app-default/);
    r = await cli(['my_app', 'proposal', 'edit', 'default', '--set', 'attributes.my_app.port=70000']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/attributes.my_app.port: must be <= 65535, got 70000/);
    expect((await cli(['my_app', 'proposal', 'edit', 'default', '--set', 'attributes.my_app.port=8080'])).out).toMatch(/saved bc-my_app-default \(revision 2\)/);
    expect((await cli(['my_app', 'proposal', 'diff', 'default'])).out).toMatch(/~ attributes.my_app.port: 8000 -> 8080|\+ attributes/);
    r = await cli(['my_app', 'proposal', 'commit', 'default']);
    expect(r.out).toMatch(/my_app-default: queued\n\s+waiting for: barclamp crowbar has no applied proposal/);
    await app.api('/api/v1/barclamps/crowbar/proposals', { body: { name: 'default' } });
    expect((await app.api('/api/v1/barclamps/crowbar/proposals/default/commit', { method: 'POST' })).body.status).toBe('applied');
    expect((await cli(['my_app', 'proposal', 'list'])).out).toMatch(/bc-my_app-default\s+applied/);

    // Upgrade: version 0.2.0 with proposal schema 2 and a migration.
    writeFileSync(join(dir, 'crowbar.yml'), readFileSync(join(dir, 'crowbar.yml'), 'utf8').replace('version: "0.1.0"', 'version: "0.2.0"').replace('proposal_schema_version: 1', 'proposal_schema_version: 2'));
    writeFileSync(join(dir, 'migrate/002_greeting.json'), JSON.stringify({ description: 'message -> greeting', ops: [{ op: 'rename', from: 'attributes.my_app.message', to: 'attributes.my_app.greeting' }] }));
    const schemaFile = join(dir, 'bc-template-my_app.schema.json');
    writeFileSync(schemaFile, readFileSync(schemaFile, 'utf8').replaceAll('"message"', '"greeting"'));
    const tplFile = join(dir, 'bc-template-my_app.json');
    writeFileSync(tplFile, readFileSync(tplFile, 'utf8').replace('"message"', '"greeting"').replace('"schema_revision": 1', '"schema_revision": 2'));
    execFileSync('tar', ['-C', work, '-czf', join(work, 'my_app.tar.gz'), 'my_app']);
    r = await cli(['barclamp', 'install', join(work, 'my_app.tar.gz')]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/upgraded \(from 0.1.0\) my_app 0.2.0/);
    expect(r.out).toMatch(/migrated bc-my_app-default: schema revision 1 -> 2/);
    const p = (await app.api('/api/v1/barclamps/my_app/proposals/default')).body;
    expect(p.proposal.attributes.my_app).toEqual({ port: 8080, greeting: 'hello from crowbar' });
    expect(p.applied.attributes.my_app.greeting).toBe('hello from crowbar');
    expect(p.schema_revision).toBe(2);

    // Uninstall: refused while required or applied; then done.
    r = await cli(['barclamp', 'uninstall', 'crowbar']);
    expect(r.err).toMatch(/409 barclamp crowbar is required by/);
    r = await cli(['barclamp', 'uninstall', 'my_app']);
    expect(r.err).toMatch(/proposal bc-my_app-default \(applied\)/);
    expect((await cli(['my_app', 'proposal', 'delete', 'default'])).out).toMatch(/deleted bc-my_app-default/);
    r = await cli(['barclamp', 'uninstall', 'my_app']);
    expect(r.out).toMatch(/uninstalled my_app/);
    expect(existsSync(join(app.dataDir, 'barclamps/my_app'))).toBe(false);
    expect((await app.api('/api/v1/barclamps/my_app')).status).toBe(404);
    const audit = (await app.api('/api/v1/barclamps-audit?barclamp=my_app')).body.events.map((e: any) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['install', 'upgrade', 'proposal-migrate', 'uninstall']));
    expect(app.proc.pid).toBe(pid);
    expect(app.proc.exitCode).toBeNull();
    // 15 CLI processes, each starting Node + tsx: slow on a loaded 2-core machine.
  }, 240_000);

  it('refuses hostile archives and writes nothing outside (or inside) the target', async () => {
    const tag = randomBytes(6).toString('hex');
    const yml = readFileSync(join(ROOT, 'barclamps/dns/crowbar.yml'));
    const good = (extra: Parameters<typeof writeTar>[0]) => gzipSync(writeTar([{ path: 'evil/crowbar.yml', data: yml }, ...extra]));
    const escapes = [join(app.dataDir, `escape-${tag}`), join(app.dataDir, `barclamps/escape-${tag}`), `/tmp/abs-${tag}`, join(tmpdir(), `escape-${tag}`)];
    const before = readdirSync(join(app.dataDir, 'barclamps')).sort();
    const cases: Array<[Buffer, RegExp]> = [
      [good([{ path: `evil/../../escape-${tag}`, data: 'pwned' }]), /'\.\.' path segment refused/],
      [good([{ path: `../escape-${tag}`, data: 'pwned' }]), /'\.\.' path segment refused/],
      [good([{ path: `/tmp/abs-${tag}`, data: 'pwned' }]), /absolute path refused/],
      [good([{ path: 'evil/roles', type: 'symlink', linkname: '/tmp' }, { path: `evil/roles/abs-${tag}`, data: 'pwned' }]), /symlink refused/],
      [good([{ path: 'evil/x', type: 'hardlink', linkname: '/etc/passwd' }]), /hardlink refused/],
      [Buffer.from('not a tarball at all'), /header checksum|no crowbar.yml/],
    ];
    // And a symlink archive made by GNU tar itself.
    const src = join(work, `sym-${tag}`);
    mkdirSync(join(src, 'evil'), { recursive: true });
    writeFileSync(join(src, 'evil/crowbar.yml'), yml);
    symlinkSync('/etc', join(src, 'evil/etc'));
    execFileSync('tar', ['-C', src, '-czf', join(src, 'sym.tgz'), 'evil']);
    cases.push([readFileSync(join(src, 'sym.tgz')), /symlink refused/]);
    for (const [data, re] of cases) {
      const r = await upload(data);
      expect(r.status, r.body.message).toBe(400);
      expect(r.body.message).toMatch(re);
    }
    for (const p of escapes) expect(existsSync(p), p).toBe(false);
    expect(readdirSync(join(app.dataDir, 'barclamps')).sort()).toEqual(before);
    expect(readdirSync(app.dataDir).filter((f) => f.includes(tag))).toEqual([]);
    // Auth: nothing without a token (roles are checked in test/unit/barclamps-proposals.test.ts).
    expect((await upload(good([]), null)).status).toBe(401);
    expect((await app.api('/api/v1/barclamps-audit')).body.events.filter((e: any) => e.action === 'install-refused').length).toBeGreaterThanOrEqual(cases.length);
  });

  it('never hands one address out twice under 50 concurrent allocation calls', async () => {
    // Nodes are created straight in the appliance's database (no discovery here).
    const db = openDatabase(join(app.dataDir, 'crowbar.db'));
    const repo = new NodeRepo(db);
    const names: string[] = [];
    for (let i = 0; i < 50; i++) {
      const mac = `52:54:01:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      names.push(repo.create({ name: `c${i}.crowbar.test`, macs: [mac], state: 'ready', cause: 'test' }, Date.now()).name);
    }
    db.close();
    const results = await Promise.all(names.map((n) => app.api('/api/v1/networks/storage/allocations', { body: { node: n } })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const addrs = results.map((r) => r.body.address);
    expect(new Set(addrs).size).toBe(50);
    // The same node asking 50 times at once gets one address.
    const same = await Promise.all(Array.from({ length: 50 }, () => app.api('/api/v1/networks/public/allocations', { body: { node: names[0] } })));
    expect(new Set(same.map((r) => r.body.address)).size).toBe(1);
    const listed = (await app.api('/api/v1/networks/storage/allocations')).body.allocations;
    expect(listed.length).toBe(50);
    expect(new Set(listed.map((a: any) => a.address)).size).toBe(50);
    // A node registered over the API gets its admin and BMC addresses from the network hook, in the live process.
    const created = await app.api('/api/v1/nodes', { body: { macs: ['52:54:02:00:00:01'] } });
    expect(created.status).toBe(201);
    const adminAllocs = (await app.api('/api/v1/networks/admin/allocations')).body.allocations;
    const mine = adminAllocs.find((a: any) => a.node === created.body.name);
    expect(mine.address).toBe('127.0.0.10');
    expect((await app.api(`/api/v1/nodes/${created.body.name}/network`)).body.addresses).toMatchObject({ admin: '127.0.0.10', bmc: '192.168.128.21' });
    // Unknown network / node: clear 404s.
    expect((await app.api('/api/v1/networks/nope/allocations', { body: { node: names[0] } })).status).toBe(404);
    expect((await app.api('/api/v1/networks/storage/allocations', { body: { node: 'ghost' } })).body.message).toMatch(/node ghost not found/);
  });

  it('an installed barclamp and its proposals survive kill -9 and a restart', async () => {
    const dir = createSkeleton('kept_app', 'ACME', work);
    const r = await upload(packDirectory(dir, 'kept_app'));
    expect(r.status).toBe(201);
    await app.api('/api/v1/barclamps/kept_app/proposals', { body: { name: 'default' } });
    if ((await app.api('/api/v1/barclamps/crowbar/proposals/default')).status === 404) {
      await app.api('/api/v1/barclamps/crowbar/proposals', { body: { name: 'default' } });
      await app.api('/api/v1/barclamps/crowbar/proposals/default/commit', { method: 'POST' });
    }
    expect((await app.api('/api/v1/barclamps/kept_app/proposals/default/commit', { method: 'POST' })).body.status).toBe('applied');
    await app.api('/api/v1/barclamps/ntp/proposals', { body: { name: 'default' } });
    expect((await app.api('/api/v1/barclamps/ntp/proposals/default/commit', { method: 'POST' })).body.status).toBe('queued');
    await app.kill();
    app = await startAppliance({ dataDir: app.dataDir });
    const bc = (await app.api('/api/v1/barclamps/kept_app')).body;
    expect(bc).toMatchObject({ name: 'kept_app', source: 'installed', sha256: r.body.sha256 });
    expect((await app.api('/api/v1/barclamps/kept_app/proposals/default')).body.status).toBe('applied');
    const ntp = (await app.api('/api/v1/barclamps/ntp/proposals/default')).body;
    expect(ntp.status).toBe('queued');
    expect(ntp.status_reason).toMatch(/barclamp dns has no applied proposal/);
  });
});
