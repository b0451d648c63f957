/**
 * The installed node's join agent (images/join/crowbar-join): its run_roles
 * function, run by bash on this host against a small HTTP server standing in
 * for the appliance (content by sha256, the run-list status report). Checks
 * the role environment (only CB_* variables), checksum refusal, the node log's
 * prefixed role output, the first failure ending the run list, and the
 * results the appliance receives.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCRIPT = resolve(import.meta.dirname, '../../images/join/crowbar-join');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** The script's functions: from say() to the main loop (which is not run). */
function functions(): string {
  const text = readFileSync(SCRIPT, 'utf8');
  const from = text.indexOf('\nsay() {');
  const to = text.indexOf('\nsay "start:');
  if (from < 0 || to < 0) throw new Error('crowbar-join layout changed: say() or the start line not found');
  return text.slice(from, to);
}

const ROLES: Record<string, string> = {
  env: 'echo "x=$CB_ATTR_X"; echo "other=${NOT_CB:-unset} home=$HOME"\n',
  fail: 'echo "about to fail"; echo "last words" >&2; exit 3\n',
  after: 'echo "must not run"\n',
};
const content = new Map(Object.values(ROLES).map((s) => [sha(s), s]));

let server: Server;
let port = 0;
let dir: string;
const reports: any[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cb-join-'));
  server = createServer((req, res) => {
    const m = /^\/api\/v1\/content\/([0-9a-f]{64})$/.exec(req.url ?? '');
    if (req.method === 'GET' && m && content.has(m[1]) && req.headers.authorization === 'Bearer t0k') {
      res.end(content.get(m[1]));
      return;
    }
    if (req.method === 'POST' && req.url === '/api/v1/nodes/n1/runlist/status') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        reports.push(JSON.parse(body));
        res.end('{}');
      });
      return;
    }
    res.statusCode = 404;
    res.end('{"error":"not found"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Run run_roles over `roles`; returns its status, FAILED and the node log. */
async function runRoles(name: string, roles: unknown[]): Promise<{ rc: number; failed: string; log: string; out: string }> {
  const w = join(dir, name);
  const rl = join(dir, `${name}.json`);
  writeFileSync(rl, JSON.stringify({ revision: '1', roles }));
  const prelude = `set -u\nmkdir -p '${w}/st' '${w}/w'\nSTATE_DIR='${w}/st'; W='${w}/w'; LOG='${w}/log'; : > "$LOG"\nURL=http://127.0.0.1:${port}; NODE=n1\nAUTH='${w}/auth'; printf 'Authorization: Bearer t0k\\n' > "$AUTH"\n`;
  const script = `${prelude}${functions()}\nrun_roles '${rl}'; rc=$?\necho "rc=$rc"; echo "FAILED=$FAILED"\n`;
  const child = spawn('bash', ['-c', script], { env: { PATH: process.env.PATH, HOME: '/nonexistent', NOT_CB: 'leak' } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  expect(code, out).toBe(0);
  return { rc: Number(/rc=(\d+)/.exec(out)![1]), failed: /FAILED=(.*)/.exec(out)![1], log: readFileSync(join(w, 'log'), 'utf8'), out };
}

const role = (r: string, script?: string, env: Record<string, string> = {}) => ({ role: r, barclamp: 'bc', proposal: 'default', ...(script ? { script: { sha256: sha(script) } } : {}), env });

describe('crowbar-join run_roles', () => {
  it('runs each role with only the run list CB_* variables and reports every result', async () => {
    reports.length = 0;
    const r = await runRoles('ok', [role('env', ROLES.env, { CB_ATTR_X: 'a b "q"', NOT_CB: 'nope', cb_lower: 'no' }), role('empty')]);
    expect(r.rc, r.out).toBe(0);
    expect(r.failed).toBe('');
    expect(r.log).toContain('[bc.env] x=a b "q"\n');
    // NOT_CB is neither taken from the run list nor inherited from the agent's environment
    expect(r.log).toContain('[bc.env] other=unset home=/root\n');
    expect(r.log).toMatch(/\[crowbar-join \d\d:\d\d:\d\d\] role bc\/default\/env: ok/);
    expect(reports).toHaveLength(1);
    expect(reports[0].results).toEqual([
      { barclamp: 'bc', proposal: 'default', role: 'env', status: 'ready', message: 'x=a b "q"\nother=unset home=/root' },
      { barclamp: 'bc', proposal: 'default', role: 'empty', status: 'ready', message: 'role empty: nothing to run' },
    ]);
  });

  it('stops at the first failing role, names it, and reports it failed with its output', async () => {
    reports.length = 0;
    const r = await runRoles('fail', [role('env', ROLES.env), role('fail', ROLES.fail), role('after', ROLES.after)]);
    expect(r.rc).toBe(1);
    expect(r.failed).toBe('fail (barclamp bc, status 3): last words');
    expect(r.log).toContain('role bc/default/fail: FAILED (status 3): last words');
    expect(r.log).not.toContain('must not run');
    expect(reports[0].results.map((x: any) => [x.role, x.status])).toEqual([
      ['env', 'ready'],
      ['fail', 'failed'],
    ]);
    expect(reports[0].results[1].message).toBe('status 3: about to fail\nlast words');
  });

  it('refuses a script whose content does not match the run list checksum', async () => {
    reports.length = 0;
    const r = await runRoles('sum', [{ ...role('env', ROLES.env), script: { sha256: sha('something else') } }]);
    expect(r.rc).toBe(1);
    expect(r.failed).toMatch(/^env \(barclamp bc, status 97\): role env: script checksum mismatch/);
    expect(reports[0].results[0].status).toBe('failed');
  });
});
