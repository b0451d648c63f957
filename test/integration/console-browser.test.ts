/**
 * The console in a real browser (Debian's Chromium via playwright-core)
 * against a real appliance process: log in, watch nodes appear and move live
 * as they are created and transitioned through the API, open a node, act on
 * it, see the signed webhook arrive, proposals (when the API exists), a
 * cross-site POST refused, a read-only user refused, and wrong passwords
 * rate-limited. Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { removeDataDir, ROOT, startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { verifySignature } from '../../src/lib/signature.js';
import { openDatabase } from '../../src/store/db.js';
import { NodeRepo } from '../../src/store/nodes.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const LAUNCH = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let app: RunningAppliance;
let browser: Browser;
let password: string;
let receiver: HttpServer;
let receiverUrl: string;
const hooks: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
let evil: HttpServer;
let evilUrl: string;
const pageErrors: string[] = [];

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });
}

async function newPage(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
  return page;
}

async function boardLoaded(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { __board?: { loaded: boolean } }).__board?.loaded === true);
}

async function login(page: Page, user: string, pw: string): Promise<void> {
  await page.goto(`${app.baseUrl}/console/`);
  await page.fill('#login-name', user);
  await page.fill('#login-password', pw);
  await page.click('#login-submit');
}

function listen(srv: HttpServer): Promise<string> {
  return new Promise((res) => srv.listen(0, '127.0.0.1', () => res(`http://127.0.0.1:${(srv.address() as { port: number }).port}`)));
}

const mac = (i: number) => `52:54:00:c0:00:${i.toString(16).padStart(2, '0')}`;
const nodeName = (i: number) => `d52-54-00-c0-00-${i.toString(16).padStart(2, '0')}.crowbar.test`;

describe.skipIf(!existsSync(CHROMIUM))('console in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await startAppliance();
    password = readFileSync(join(app.dataDir, 'admin.password'), 'utf8').trim();
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
    });
    receiverUrl = await listen(receiver);
    evil = createServer((req, res) => {
      // A page on another origin that posts to the appliance, as a CSRF attack would.
      const target = `${app.baseUrl}/api/v1/nodes/${nodeName(1)}/transition`;
      res.writeHead(200, { 'content-type': 'text/html' }).end(
        `<!doctype html><form method="POST" action="${target}" enctype="text/plain"><input name='{"to":"delete","x":"' value='"}'></form><script>document.forms[0].submit()</script>`,
      );
    });
    evilUrl = await listen(evil);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH });
  });

  afterAll(async () => {
    await browser?.close();
    receiver?.close();
    evil?.close();
    if (app) {
      await app.stop();
      removeDataDir(app.dataDir);
    }
  });

  it('logs in, shows nodes appearing and moving live, opens a node, acts, and delivers a signed webhook', async () => {
    const page = await newPage();
    await page.goto(`${app.baseUrl}/console/`);
    await page.waitForSelector('#login-form');
    await shot(page, '01-login');
    await login(page, 'admin', password);
    await page.waitForSelector('#board-empty:not([hidden])');
    await page.waitForSelector('#live[data-state="live"]');

    // Webhook through the admin page; the secret is shown once.
    await page.click('a[data-nav="admin"]');
    await page.fill('#webhook-url', `${receiverUrl}/hook`);
    await page.fill('#webhook-events', 'node.transition, proposal.*');
    await page.click('#webhook-form button[type="submit"]');
    const secret = (await page.textContent('#secret-value', { timeout: 10_000 }))!.trim();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    await shot(page, '02-admin');

    await page.click('a[data-nav="board"]');
    await boardLoaded(page);
    // Simulated discovery: nodes created through the API appear without reload.
    for (let i = 1; i <= 6; i++) expect((await app.api('/api/v1/nodes', { body: { macs: [mac(i)] } })).status).toBe(201);
    await page.waitForFunction(() => document.querySelectorAll('#board .tile').length === 6, undefined, { timeout: 10_000 });
    expect(await page.textContent('#count-pending b')).toBe('6');
    expect(await page.textContent('#count-total')).toBe('6 nodes');
    await app.api(`/api/v1/nodes/${nodeName(2)}/transition`, { body: { to: 'hardware-installing' } });
    await app.api(`/api/v1/nodes/${nodeName(3)}/transition`, { body: { to: 'problem', reason: 'disk failed' } });
    await page.waitForSelector(`.lane.b-building .tile[data-node="${nodeName(2)}"]`, { timeout: 10_000 });
    await page.waitForSelector(`.lane.b-failed .tile[data-node="${nodeName(3)}"]`, { timeout: 10_000 });
    expect(await page.textContent('#count-pending b')).toBe('4');
    expect(await page.textContent('#count-building b')).toBe('1');
    expect(await page.textContent('#count-failed b')).toBe('1');
    await page.waitForFunction(() => /0\/6 ready/.test(document.querySelector('#board-clock')?.textContent || ''));
    await shot(page, '03-board');
    await page.click('#wall-toggle');
    expect(await page.isVisible('a[data-nav="timings"]')).toBe(false);
    await shot(page, '03b-wall');
    await page.click('#wall-toggle');
    expect(await page.isVisible('a[data-nav="timings"]')).toBe(true);

    // Open a node and allocate it (with confirmation).
    await page.click(`.tile[data-node="${nodeName(1)}"]`);
    await page.waitForSelector('#node-name');
    expect(await page.textContent('#node-name')).toBe(nodeName(1));
    expect(await page.textContent('#node-state')).toBe('discovered');
    await page.click('button[data-action="hardware-installing"]');
    await page.waitForSelector('dialog#confirm[open]');
    await shot(page, '04-confirm');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => document.querySelector('#node-state')?.textContent === 'hardware-installing', undefined, { timeout: 10_000 });
    await page.waitForSelector('#node-timeline li:nth-child(2)');
    expect(await page.textContent('#node-timeline')).toContain('hardware-installing from discovered');
    await page.waitForSelector('#node-clock');
    // Power status through the power service (manual driver: the state is unknown, never invented).
    await page.click('#power-check');
    await page.waitForSelector('.toast:has-text("Power: unknown")');
    await shot(page, '05-node');

    // The webhook receiver got the transition, signed with the secret.
    const deadline = Date.now() + 10_000;
    const want = () => hooks.find((x) => JSON.parse(x.body).data?.node === nodeName(1) && JSON.parse(x.body).data?.to === 'hardware-installing');
    while (!want() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const got = want();
    expect(got).toBeDefined();
    expect(got!.headers['x-crowbar-event']).toBe('node.transition');
    expect(verifySignature(secret, String(got!.headers['x-crowbar-signature']), got!.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(JSON.parse(got!.body).data.cause).toBe('api:admin');
    // ... and the delivery log shows it.
    await page.click('a[data-nav="admin"]');
    await page.click('button[data-log]');
    await page.waitForSelector('#delivery-table tr.delivery-delivered');

    // The batch unboxer clock.
    await page.click('a[data-nav="timings"]');
    await page.waitForSelector('#phase-table');
    expect(await page.textContent('#phase-table')).toContain('discovered');
    await shot(page, '06-timings');

    await page.click('a[data-nav="networks"]');
    await page.waitForSelector('#allocations');

    // Rack grouping: inventory with a rack (as discovery reports it) puts the node in its rack's section.
    const db = openDatabase(join(app.dataDir, 'crowbar.db'));
    try {
      const repo = new NodeRepo(db);
      for (const [i, rack] of [[5, 'R2'], [6, 'R10']] as const) repo.setInventory(repo.getByName(nodeName(i))!.id, { rack, chassis: 'c1' }, Date.now());
    } finally {
      db.close();
    }
    await page.click('a[data-nav="board"]');
    await boardLoaded(page);
    expect(await page.$$eval('#board section.rack:not([hidden])', (ss) => ss.map((s) => (s as HTMLElement).dataset.rack))).toEqual(['R2', 'R10', '']);
    expect(await page.textContent(`section.rack[data-rack="R2"] .tile[data-node="${nodeName(5)}"]`)).toContain('discovered');
    // Live: a transition carries the summary (with its rack) to the open board.
    await app.api(`/api/v1/nodes/${nodeName(6)}/transition`, { body: { to: 'hardware-installing' } });
    await page.waitForSelector(`section.rack[data-rack="R10"] .lane.b-building .tile[data-node="${nodeName(6)}"]`);
    await shot(page, '06b-racks');
    expect(pageErrors).toEqual([]);
  });

  it('proposals: edit with a validation error, fix it, diff and commit (or "not available" without the API)', async () => {
    const page = await newPage();
    await login(page, 'admin', password);
    await boardLoaded(page);
    const has = (await app.api('/api/v1/proposals')).status === 200;
    await page.click('a[data-nav="proposals"]');
    if (!has) {
      await page.waitForSelector('#proposals-unavailable');
      await shot(page, '07-proposals-unavailable');
      return;
    }
    await page.waitForSelector('#barclamps tr[data-barclamp="ntp"]');
    const existing = await app.api('/api/v1/barclamps/ntp/proposals');
    if (!existing.body.proposals.some((p: { name: string }) => p.name === 'console')) {
      await page.fill('#barclamps tr[data-barclamp="ntp"] input', 'console');
      await page.click('#barclamps tr[data-barclamp="ntp"] button[type="submit"]');
    } else await page.goto(`${app.baseUrl}/console/#/proposal/ntp/console`);
    await page.waitForSelector('#proposal-form');
    const field = page.locator('textarea[name="attributes.ntp.servers"]');
    await field.fill('10.0.0.1\nnot-an-address');
    await page.click('#proposal-save');
    await page.waitForSelector('label.field.invalid .field-error:not(:empty)');
    expect(await page.textContent('#proposal-errors')).toMatch(/servers\[1\]/);
    await shot(page, '07-proposal-invalid');
    // Nothing was saved.
    const before = await app.api('/api/v1/barclamps/ntp/proposals/console');
    expect(before.body.proposal.attributes.ntp.servers).not.toContain('not-an-address');
    await field.fill('10.0.0.1\n10.0.0.2');
    await page.click('#proposal-diff-btn');
    await page.click('#proposal-commit');
    await page.waitForSelector('dialog#confirm[open]');
    expect(await page.textContent('#proposal-diff')).toContain('10.0.0.2');
    await shot(page, '08-proposal-diff');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => /Commit: /.test(document.querySelector('#proposal-result')?.textContent || ''), undefined, { timeout: 10_000 });
    const after = await app.api('/api/v1/barclamps/ntp/proposals/console');
    expect(after.body.proposal.attributes.ntp.servers).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(['applied', 'queued', 'committing']).toContain(after.body.status);
    await shot(page, '09-proposal-committed');
    // The proposal's status change reached the webhook receiver too.
    const until = Date.now() + 10_000;
    const prop = () => hooks.find((x) => /^proposal\./.test(JSON.parse(x.body).type) && JSON.parse(x.body).data?.proposal === 'bc-ntp-console');
    while (!prop() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(prop()).toBeDefined();
    expect(prop()!.headers['x-crowbar-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(pageErrors).toEqual([]);
  });

  it('refuses a cross-site POST made with the session cookie', async () => {
    const page = await newPage();
    await login(page, 'admin', password);
    await boardLoaded(page);
    const before = (await app.api(`/api/v1/nodes/${nodeName(1)}`)).body.state;
    // Same site (127.0.0.1, another port), so SameSite=Strict still sends the cookie: the CSRF check must stop it.
    const resp = page.waitForResponse((r) => r.url().includes('/transition'));
    await page.goto(`${evilUrl}/`);
    const r = await resp;
    expect(r.status()).toBe(403);
    expect(await r.text()).toMatch(/cross-site request refused|CSRF/);
    // A scripted cross-origin fetch with credentials is refused too.
    const status = await page.evaluate(async (url) => {
      try {
        const x = await fetch(url, { method: 'POST', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"to":"delete"}' });
        return x.status;
      } catch {
        return -1; // CORS hides the answer; the state check below is what matters
      }
    }, `${app.baseUrl}/api/v1/nodes/${nodeName(1)}/transition`);
    expect([403, -1]).toContain(status);
    expect((await app.api(`/api/v1/nodes/${nodeName(1)}`)).body.state).toBe(before);
  });

  it('a read-only user sees the board but cannot act (403)', async () => {
    expect((await app.api('/api/v1/users', { body: { name: 'watcher', role: 'readonly', password: 'watcher-password-1' } })).status).toBe(201);
    const page = await newPage();
    await login(page, 'watcher', 'watcher-password-1');
    await page.waitForSelector('#board .tile');
    await page.goto(`${app.baseUrl}/console/#/node/${nodeName(4)}`);
    await page.waitForSelector('#node-actions');
    expect(await page.isDisabled('button[data-action="reboot"]')).toBe(true);
    expect(await page.isVisible('a[data-nav="admin"]')).toBe(false);
    // Even a hand-made request with a valid CSRF token is refused.
    const res = await page.evaluate(async (name) => {
      const s = await (await fetch('/api/v1/session')).json();
      const r = await fetch(`/api/v1/nodes/${name}/transition`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token }, body: '{"to":"reboot"}' });
      return { status: r.status, body: await r.json() };
    }, nodeName(4));
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/operator role required/);
    await shot(page, '10-readonly');
  });

  it('rate-limits wrong passwords on the login page (429)', async () => {
    expect((await app.api('/api/v1/users', { body: { name: 'bob', role: 'operator', password: 'bob-password-123' } })).status).toBe(201);
    const page = await newPage();
    await page.goto(`${app.baseUrl}/console/`);
    const messages: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.fill('#login-name', 'bob');
      await page.fill('#login-password', `wrong-${i}`);
      const resp = page.waitForResponse((r) => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST');
      await page.click('#login-submit');
      messages.push(`${(await resp).status()}`);
      await page.waitForFunction(() => !(document.querySelector('#login-submit') as HTMLButtonElement).disabled);
    }
    expect(messages).toEqual(['401', '401', '401', '401', '401', '429']);
    expect(await page.textContent('#login-error')).toMatch(/too many failed logins/);
    // The right password is refused too while the limit holds.
    await page.fill('#login-password', 'bob-password-123');
    await page.click('#login-submit');
    await page.waitForFunction(() => /too many failed logins/.test(document.querySelector('#login-error')?.textContent || ''));
    await shot(page, '11-rate-limited');
  });
});
