/**
 * Console benchmark: the node board with 1000 nodes in Chromium.
 *  - time to first render: navigation start -> 1000 tiles in the DOM and a
 *    frame painted, for our live board (API snapshot + JS render) side by
 *    side with the floor: the same 1000 tiles pre-rendered as static HTML with
 *    the same stylesheet, served by nginx;
 *  - SSE update latency: API transition request sent -> tile repainted in the
 *    browser (one at a time);
 *  - burst: 300 transitions at once -> all 300 tiles updated, and how many
 *    animation frames the board needed for them.
 * Usage: tsx bench/console-bench.ts [--nodes N] [--repeats R] [--updates U]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { nextPort, removeDataDir, ROOT, startAppliance } from '../test/helpers/appliance.js';

const args = process.argv.slice(2);
const opt = (k: string, d: number) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const NODES = opt('nodes', 1000);
const REPEATS = opt('repeats', 5);
const UPDATES = opt('updates', 50);
const BURST = Math.min(300, Math.floor(NODES / 2));

function stats(xs: number[]): { median: number; min: number; max: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { median: q(0.5), min: s[0], max: s[s.length - 1], p95: q(0.95) };
}
const fmt = (x: { median: number; min: number; max: number }) => `${x.median.toFixed(0)} (${x.min.toFixed(0)}-${x.max.toFixed(0)}) ms`;

const mac = (i: number) => `52:54:01:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const nameOf = (i: number) => `d${mac(i).replace(/:/g, '-')}.crowbar.test`;

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

/** Navigate and return ms from navigation start to `count` tiles present and a frame after. */
async function firstRender(page: Page, url: string, count: number): Promise<number> {
  await page.goto('about:blank');
  await page.goto(url, { waitUntil: 'commit' });
  const h = await page.waitForFunction(
    (n) => {
      const w = window as unknown as { __t?: number };
      if (w.__t === undefined && document.querySelectorAll('.tile').length >= n) w.__t = performance.now();
      return w.__t;
    },
    count,
    { polling: 'raf', timeout: 60_000 },
  ).catch(async (e) => {
    throw new Error(`${url}: ${await page.evaluate(() => `${document.querySelectorAll('.tile').length} tiles; ${document.body.innerText.slice(0, 300)}`)}: ${e}`);
  });
  return Number(await h.jsonValue());
}

async function main(): Promise<void> {
  const out = (s: string) => process.stdout.write(s + '\n');
  out(`console bench: ${NODES} nodes, ${REPEATS} repeats, ${UPDATES} single updates, burst of ${BURST}`);
  const app = await startAppliance({ config: { log_level: 'warn' } });
  const procs: ChildProcess[] = [];
  const www = mkdtempSync(join(tmpdir(), 'crowbar-bench-www-'));
  chmodSync(www, 0o755); // nginx workers run as nobody
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    // Populate: every node discovered, a quarter building, a tenth failed, a fifth ready.
    const t0 = Date.now();
    const ids = Array.from({ length: NODES }, (_, i) => i + 1);
    await pool(ids, 16, async (i) => {
      const r = await app.api('/api/v1/nodes', { body: { macs: [mac(i)] } });
      if (r.status !== 201) throw new Error(`create ${i}: ${r.status} ${JSON.stringify(r.body)}`);
    });
    const path = ['hardware-installing', 'hardware-installed', 'installing', 'installed', 'readying', 'ready'];
    await pool(ids, 16, async (i) => {
      const steps = i % 5 === 0 ? path : i % 4 === 1 ? path.slice(0, 1) : i % 10 === 3 ? ['problem'] : [];
      for (const to of steps) await app.api(`/api/v1/nodes/${nameOf(i)}/transition`, { body: { to } });
    });
    out(`populated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const password = readFileSync(join(app.dataDir, 'admin.password'), 'utf8').trim();

    // Reference page: the same tiles, pre-rendered, same stylesheet, served by nginx.
    const board = (await app.api('/api/v1/board')).body as { nodes: Array<{ name: string; state: string; bucket: string }> };
    copyFileSync(join(ROOT, 'src/console/assets/style.css'), join(www, 'style.css'));
    const lanes = ['ready', 'pending', 'building', 'failed', 'unknown']
      .map((b) => `<div class="lane b-${b}"><h3>${b}</h3><div class="tiles">${board.nodes.filter((n) => n.bucket === b).map((n) => `<a class="tile b-${b}" href="#"><span>${n.name.split('.')[0]}</span><small>${n.state}</small></a>`).join('')}</div></div>`)
      .join('');
    writeFileSync(join(www, 'index.html'), `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/style.css"></head><body><main><div class="racks"><section class="rack only"><div class="lanes">${lanes}</div></section></div></main></body></html>`);
    let refUrl: string | null = null;
    if (existsSync('/usr/sbin/nginx')) {
      const port = nextPort();
      mkdirSync(join(www, 'tmp'), { recursive: true });
      writeFileSync(
        join(www, 'nginx.conf'),
        `daemon off; worker_processes 1; pid ${www}/nginx.pid; error_log ${www}/error.log warn; events { worker_connections 256; }
http { access_log off; client_body_temp_path ${www}/tmp; proxy_temp_path ${www}/tmp; fastcgi_temp_path ${www}/tmp; uwsgi_temp_path ${www}/tmp; scgi_temp_path ${www}/tmp;
  types { text/html html; text/css css; } default_type application/octet-stream;
  server { listen 127.0.0.1:${port}; root ${www}; } }`,
      );
      const ng = spawn('/usr/sbin/nginx', ['-c', join(www, 'nginx.conf'), '-p', www], { stdio: 'ignore' });
      procs.push(ng);
      refUrl = `http://127.0.0.1:${port}/index.html`;
      for (let i = 0; i < 50; i++) {
        try {
          if ((await fetch(refUrl)).ok) break;
        } catch {
          /* starting */
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await ctx.newPage();
    await page.goto(`${app.baseUrl}/console/`);
    await page.fill('#login-name', 'admin');
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForFunction((n) => document.querySelectorAll('.tile').length >= n, NODES, { timeout: 60_000 });

    // 1. Time to first render, interleaved with the reference.
    const ours: number[] = [];
    const jsRender: number[] = [];
    const ref: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      ours.push(await firstRender(page, `${app.baseUrl}/console/#/board`, NODES));
      jsRender.push(Number(await page.evaluate(() => (window as unknown as { __board: { renderMs: number } }).__board.renderMs)));
      if (refUrl) ref.push(await firstRender(page, refUrl, NODES));
    }
    await page.goto(`${app.baseUrl}/console/#/board`);
    await page.waitForFunction(() => (window as unknown as { __board?: { loaded: boolean } }).__board?.loaded === true);
    await page.waitForSelector('#live[data-state="live"]');

    // 2. Single-update latency: POST sent -> tile repainted.
    await page.evaluate(() => {
      const w = window as unknown as { __seen: Map<string, number> };
      w.__seen = new Map();
      new MutationObserver((ms) => {
        const now = Date.now();
        for (const m of ms) {
          const el = m.target as HTMLElement;
          if (m.attributeName === 'data-state' && el.dataset.node) {
            const key = `${el.dataset.node} ${el.dataset.state}`;
            requestAnimationFrame(() => w.__seen.set(key, Date.now()));
            void now;
          }
        }
      }).observe(document.getElementById('board')!, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
    });
    const pending = ids.filter((i) => i % 5 !== 0 && i % 4 !== 1 && i % 10 !== 3);
    const lat: number[] = [];
    const rtt: number[] = [];
    const recv: number[] = [];
    const flushed: number[] = [];
    for (const i of pending.slice(0, UPDATES)) {
      const sent = Date.now();
      const r = await app.api(`/api/v1/nodes/${nameOf(i)}/transition`, { body: { to: 'hardware-installing' } });
      if (r.status !== 200) throw new Error(`transition: ${r.status}`);
      rtt.push(Date.now() - sent);
      const key = `${nameOf(i)} hardware-installing`;
      const h = await page.waitForFunction((k) => (window as unknown as { __seen: Map<string, number> }).__seen.get(k), key, { timeout: 10_000, polling: 5 });
      lat.push(Number(await h.jsonValue()) - sent);
      const b = (await page.evaluate(() => (window as unknown as { __board: { lastQueuedAt: number; lastFlushAt: number } }).__board)) as { lastQueuedAt: number; lastFlushAt: number };
      recv.push(b.lastQueuedAt - sent);
      flushed.push(b.lastFlushAt - sent);
    }

    // 3. Burst: BURST transitions at once.
    const burst = pending.slice(UPDATES, UPDATES + BURST);
    const frames0 = Number(await page.evaluate(() => (window as unknown as { __board: { frames: number } }).__board.frames));
    const bStart = Date.now();
    await pool(burst, 32, async (i) => {
      await app.api(`/api/v1/nodes/${nameOf(i)}/transition`, { body: { to: 'hardware-installing' } });
    });
    const posted = Date.now() - bStart;
    const keys = burst.map((i) => `${nameOf(i)} hardware-installing`);
    const done = await page.waitForFunction((ks) => {
      const s = (window as unknown as { __seen: Map<string, number> }).__seen;
      return ks.every((k) => s.has(k)) ? Math.max(...ks.map((k) => s.get(k)!)) : false;
    }, keys, { timeout: 60_000, polling: 20 });
    const burstMs = Number(await done.jsonValue()) - bStart;
    const frames = Number(await page.evaluate(() => (window as unknown as { __board: { frames: number } }).__board.frames)) - frames0;

    const o = stats(ours);
    out('');
    out('| metric | crowbar console | reference | ratio |');
    out('|---|---|---|---|');
    if (ref.length) {
      const f = stats(ref);
      out(`| time to first render, ${NODES} nodes (navigation -> all tiles, median (min-max) of ${REPEATS}) | ${fmt(o)} | static HTML via nginx: ${fmt(f)} | ${(o.median / f.median).toFixed(2)}x |`);
    } else out(`| time to first render, ${NODES} nodes | ${fmt(o)} | nginx missing | - |`);
    out(`| of which board JS render (snapshot -> DOM) | ${fmt(stats(jsRender))} | - | - |`);
    const l = stats(lat);
    out(`| SSE update latency (POST sent -> tile repainted), ${lat.length} updates | median ${l.median} ms, p95 ${l.p95} ms, max ${l.max} ms | - | - |`);
    const rt = stats(rtt);
    out(`| of which the POST itself (committed with fsync, answered) | median ${rt.median} ms, p95 ${rt.p95} ms | - | - |`);
    out(`| of which event received by the page / applied to the DOM | median ${stats(recv).median} / ${stats(flushed).median} ms, p95 ${stats(recv).p95} / ${stats(flushed).p95} ms | - | - |`);
    out(`| burst of ${BURST} transitions (first POST -> all ${BURST} tiles repainted) | ${burstMs} ms (POSTs took ${posted} ms), ${frames} animation frames | - | - |`);
  } finally {
    await browser.close();
    for (const p of procs) p.kill('SIGTERM');
    await app.stop();
    removeDataDir(app.dataDir);
    rmSync(www, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`console bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
