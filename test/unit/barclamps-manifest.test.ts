import { describe, expect, it, afterEach } from 'vitest';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkManifest, orderByDependencies, parseManifest, type Manifest } from '../../src/barclamps/manifest.js';
import { loadBarclamp } from '../../src/barclamps/bundle.js';
import { createSkeleton } from '../../src/barclamps/skeleton.js';
import { applyMigration, migrateProposal, parseMigration } from '../../src/barclamps/migrate.js';

const SHIPPED = resolve(import.meta.dirname, '../../barclamps');
const base = (name: string, extra = '') => `barclamp:\n  name: ${name}\ncrowbar:\n  layout: 1\n  order: 10\n${extra}`;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('crowbar.yml validation', () => {
  it('accepts a minimal manifest with defaults', () => {
    const m = parseManifest(base('foo'));
    expect(m.barclamp.name).toBe('foo');
    expect(m.crowbar.run_order).toBe(10);
    expect(m.crowbar.proposal_schema_version).toBe(1);
  });

  it('gives clear errors', () => {
    expect(() => parseManifest('barclamp:\n  display: x\ncrowbar:\n  layout: 1\n  order: 1\n')).toThrow(/barclamp.name: is required/);
    expect(() => parseManifest(base('my-bc'))).toThrow(/barclamp.name: "my-bc" contains a hyphen/);
    expect(() => parseManifest(base('"my bc"'))).toThrow(/barclamp.name: "my bc" contains a space/);
    expect(() => parseManifest(base('foo').replace('layout: 1', 'layout: 2'))).toThrow(/crowbar.layout: unknown layout 2 \(this Crowbar reads layout 1\)/);
    expect(() => parseManifest(base('foo').replace('order: 10', 'order: -3'))).toThrow(/crowbar.order: must be a non-negative integer, got -3/);
    expect(() => parseManifest(base('foo').replace('order: 10', 'order: soon'))).toThrow(/crowbar.order: must be a non-negative integer/);
    expect(() => parseManifest('barclamp:\n  name: foo\n')).toThrow(/crowbar: section is required/);
    expect(() => parseManifest('barclamp: [\n')).toThrow(/not valid YAML/);
    expect(() => parseManifest(base('foo', 'roles:\n  r:\n    placement: everywhere\n'))).toThrow(/roles.r: needs a script or chef recipes.*roles.r.placement: must be first, all or none/);
    expect(() => parseManifest(base('foo', 'hooks:\n  flying: {add_to_role: [x]}\n'))).toThrow(/hooks.flying: unknown node state/);
    expect(() => parseManifest(base('foo', 'roles:\n  r: {script: ../../etc/passwd}\n'))).toThrow(/roles.r.script: must be a relative path inside the barclamp/);
  });

  it('reports dependency cycles and unknown requires', () => {
    const m = (name: string, requires: string[], order = 1): Manifest => checkManifest({ barclamp: { name, requires }, crowbar: { layout: 1, order } });
    expect(() => orderByDependencies([m('a', ['b']), m('b', ['c']), m('c', ['a'])])).toThrow(/dependency cycle: a -> b -> c -> a/);
    expect(() => orderByDependencies([m('a', ['nope'])])).toThrow(/barclamp a: requires unknown barclamp "nope"/);
    expect(() => checkManifest({ barclamp: { name: 'a', requires: ['a'] }, crowbar: { layout: 1, order: 1 } })).toThrow(/cannot require itself/);
    const order = orderByDependencies([m('z', ['y'], 1), m('y', [], 50), m('x', [], 2)]).map((x) => x.barclamp.name);
    expect(order).toEqual(['y', 'z', 'x']);
  });

  it('loads every shipped barclamp and orders them without cycles', () => {
    const names = readdirSync(SHIPPED);
    expect(names).toEqual(expect.arrayContaining(['crowbar', 'deployer', 'ipmi', 'network', 'dns', 'ntp', 'provisioner', 'bios', 'raid', 'nagios', 'logging', 'lamp']));
    const all = names.map((n) => loadBarclamp(join(SHIPPED, n)));
    const ordered = orderByDependencies(all.map((b) => b.manifest)).map((m) => m.barclamp.name);
    expect(ordered.indexOf('crowbar')).toBe(0);
    expect(ordered.indexOf('dns')).toBeLessThan(ordered.indexOf('ntp'));
    const runOrder = Object.fromEntries(all.map((b) => [b.name, b.manifest.crowbar.run_order]));
    expect(runOrder).toMatchObject({ crowbar: 0, deployer: 10, ipmi: 16, network: 20, dns: 30, ntp: 50, provisioner: 1060 });
    const lamp = all.find((b) => b.name === 'lamp')!;
    expect(lamp.template.deployment.lamp.element_order).toEqual([['lamp-database'], ['lamp-web'], ['lamp-balancer']]);
    const ntp = all.find((b) => b.name === 'ntp')!;
    expect(ntp.roles['ntp-client'].script?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(ntp.roles['ntp-client'].chef?.recipes).toEqual(['ntp::default']);
  });

  it('reports a broken barclamp directory with the file at fault', () => {
    const d = mkdtempSync(join(tmpdir(), 'cb-bc-'));
    dirs.push(d);
    cpSync(join(SHIPPED, 'nagios'), join(d, 'nagios'), { recursive: true });
    rmSync(join(d, 'nagios/roles/nagios-client/run.sh'));
    expect(() => loadBarclamp(join(d, 'nagios'))).toThrow(/roles.nagios-client.script: roles\/nagios-client\/run.sh does not exist/);
    cpSync(join(SHIPPED, 'ntp'), join(d, 'ntp'), { recursive: true });
    writeFileSync(join(d, 'ntp/bc-template-ntp.schema.json'), JSON.stringify({ type: 'object', oneOf: [] }));
    expect(() => loadBarclamp(join(d, 'ntp'))).toThrow(/unsupported keyword "oneOf"/);
    cpSync(join(SHIPPED, 'dns'), join(d, 'dns'), { recursive: true });
    writeFileSync(join(d, 'dns/crowbar.yml'), base('dns', 'crowbar:\n').replace('crowbar:\n  layout: 1\n  order: 10\ncrowbar:\n', 'crowbar:\n  layout: 1\n  order: 10\n  proposal_schema_version: 3\n'));
    expect(() => loadBarclamp(join(d, 'dns'))).toThrow(/migration 002 is missing/);
  });

  it('creates a skeleton that loads, and validates its name', () => {
    const d = mkdtempSync(join(tmpdir(), 'cb-sk-'));
    dirs.push(d);
    const p = createSkeleton('my_app', 'ACME', d);
    const bc = loadBarclamp(p);
    expect(Object.keys(bc.manifest.roles)).toEqual(['my-app-server', 'my-app-client']);
    expect(bc.roles['my-app-client'].chef?.recipes).toEqual(['my_app::client']);
    expect(() => createSkeleton('my-app', 'ACME', d)).toThrow(/contains a hyphen/);
    expect(() => createSkeleton('my app', 'ACME', d)).toThrow(/contains a space/);
    expect(() => createSkeleton('my_app', 'ACME', d)).toThrow(/already exists/);
  });
});

describe('proposal migrations', () => {
  it('applies set/default/rename/remove in order and refuses downgrades', () => {
    const m2 = parseMigration('migrate/002_a.json', 2, { ops: [{ op: 'rename', from: 'attributes.x.old', to: 'attributes.x.new' }, { op: 'default', path: 'attributes.x.flag', value: true }] });
    const m3 = parseMigration('migrate/003_b.json', 3, { ops: [{ op: 'remove', path: 'attributes.x.junk' }, { op: 'set', path: 'attributes.x.level', value: 3 }] });
    const doc = { attributes: { x: { old: 1, junk: 2, flag: false } } };
    const { doc: out, applied } = migrateProposal(doc, [m2, m3], 1, 3);
    expect(out).toEqual({ attributes: { x: { new: 1, flag: false, level: 3 } } });
    expect(applied).toEqual([2, 3]);
    expect(doc.attributes.x.old).toBe(1);
    expect(applyMigration({ attributes: {} }, m2)).toEqual({ attributes: { x: { flag: true } } });
    expect(() => migrateProposal(doc, [m2], 3, 2)).toThrow(/newer than the barclamp/);
    expect(() => parseMigration('migrate/002_c.json', 2, { ops: [{ op: 'eval', path: 'attributes.x' }] })).toThrow(/unknown op "eval"/);
    expect(() => parseMigration('migrate/002_c.json', 2, { ops: [{ op: 'remove', path: 'id' }] })).toThrow(/path must be attributes/);
  });
});
