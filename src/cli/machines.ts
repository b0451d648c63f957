/**
 * `crowbar machines list|show|allocate|reboot|poweron|shutdown|identify|
 * reinstall|reset|delete` over the REST API (Crowbar's verbs), with table
 * or `--json` output and `--wait STATE` progress for long operations
 * (followed on the event stream, re-checked by polling).
 */
import { CrowbarError } from '../lib/errors.js';
import { call, openStream, resolveRemote, RemoteError, type Remote, type RemoteArgs } from './remote.js';
import { formatDuration, formatTable } from './table.js';

/** Where output goes (tests capture it). */
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
  /** Rewrite one progress line in place (a terminal) instead of printing lines. */
  tty: boolean;
}

/** Transition requested by each action verb. */
export const MACHINE_ACTIONS: Readonly<Record<string, string>> = {
  allocate: 'hardware-installing',
  reboot: 'reboot',
  poweron: 'poweron',
  shutdown: 'shutdown',
  identify: 'identify',
  reinstall: 'reinstall',
  reset: 'reset',
  delete: 'delete',
};

/** Usage of `crowbar machines`. */
export const MACHINES_USAGE = `usage: crowbar machines <verb> [options]

verbs:
  list [--state STATE]                 nodes with state, MAC, admin address, BMC
  show NAME                            one node: inventory, addresses, phases, events
  allocate NAME...                     start hardware-install (discovered -> hardware-installing)
  reboot|poweron|shutdown|identify NAME...   power actions through the BMC
  reinstall|reset|delete NAME...       admin actions

options:
  --json                  machine-readable output
  --wait STATE            after an action, wait until every node is in STATE (progress shown)
  --timeout SECONDS       give up waiting after this long (default 3600)
  --url URL               appliance API (CROWBAR_URL, default http://127.0.0.1:8080)
  --token TOKEN           API token (CROWBAR_TOKEN)
  --data-dir DIR          read DIR/admin.token (CROWBAR_DATA_DIR, /var/lib/crowbar, ./var/crowbar)

NAME is the node's name, its short name (d52-54-00-aa-bb-cc), a MAC or its id.
`;

interface Args extends RemoteArgs {
  json: boolean;
  wait?: string;
  timeoutSec: number;
  state?: string;
  positional: string[];
}

function parse(argv: readonly string[]): Args {
  const a: Args = { json: false, timeoutSec: 3600, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) {
      a.positional.push(argv[i]);
      continue;
    }
    const key = m[1];
    if (key === 'json') {
      a.json = true;
      continue;
    }
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new CrowbarError('bad_request', `--${key} needs a value`);
    if (key === 'url') a.url = v;
    else if (key === 'token') a.token = v;
    else if (key === 'data-dir') a.dataDir = v;
    else if (key === 'wait') a.wait = v;
    else if (key === 'state') a.state = v;
    else if (key === 'timeout') {
      a.timeoutSec = Number(v);
      if (!Number.isFinite(a.timeoutSec) || a.timeoutSec <= 0) throw new CrowbarError('bad_request', `--timeout: not a positive number: ${v}`);
    } else throw new CrowbarError('bad_request', `unknown option --${key}\n${MACHINES_USAGE}`);
  }
  return a;
}

interface NodeLite {
  id: number;
  name: string;
  state: string;
  macs: string[];
  allocated: boolean;
  bmc_address: string | null;
  inventory: Record<string, any>;
  problem_reason: string | null;
}

/** Resolve NAME (full, short, MAC or id) to a node name; throws not_found. */
export async function resolveNode(r: Remote, name: string, cache: { nodes?: NodeLite[] } = {}): Promise<string> {
  try {
    return ((await call(r, 'GET', `/api/v1/nodes/${encodeURIComponent(name)}`)) as NodeLite).name;
  } catch (e) {
    if (!(e instanceof RemoteError) || e.status !== 404) throw e;
  }
  cache.nodes ??= ((await call(r, 'GET', '/api/v1/nodes')) as { nodes: NodeLite[] }).nodes;
  const mac = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i.test(name) ? name.toLowerCase().replace(/-/g, ':') : null;
  const hits = cache.nodes.filter((n) => n.name.split('.')[0] === name || (mac !== null && n.macs.includes(mac)));
  if (hits.length === 1) return hits[0].name;
  if (hits.length > 1) throw new CrowbarError('conflict', `${name} matches several nodes: ${hits.map((n) => n.name).join(', ')}`);
  throw new CrowbarError('not_found', `node ${name} not found`);
}

async function list(r: Remote, a: Args, io: CliIo): Promise<number> {
  const [{ nodes }, allocs] = await Promise.all([call(r, 'GET', '/api/v1/nodes') as Promise<{ nodes: NodeLite[] }>, call(r, 'GET', '/api/v1/allocations?network=admin').catch(() => ({ allocations: [] }))]);
  const addr = new Map<number, string>((allocs.allocations as Array<{ node_id: number; address: string }>).map((x) => [x.node_id, x.address]));
  const shown = a.state ? nodes.filter((n) => n.state === a.state) : nodes;
  if (a.json) {
    io.out(JSON.stringify(shown.map((n) => ({ ...n, admin_address: addr.get(n.id) ?? null })), null, 2) + '\n');
    return 0;
  }
  io.out(
    formatTable(
      ['NAME', 'STATE', 'MAC', 'ADDRESS', 'BMC', 'ALLOCATED'],
      shown.map((n) => [n.name, n.state, n.macs[0], addr.get(n.id), n.bmc_address, n.allocated ? 'yes' : 'no']),
    ),
  );
  if (!a.state) {
    const by = new Map<string, number>();
    for (const n of nodes) by.set(n.state, (by.get(n.state) ?? 0) + 1);
    io.out(`${nodes.length} node(s): ${[...by].map(([s, c]) => `${c} ${s}`).join(', ') || 'none'}\n`);
  }
  return 0;
}

async function show(r: Remote, a: Args, io: CliIo): Promise<number> {
  if (a.positional.length !== 1) throw new CrowbarError('bad_request', 'usage: crowbar machines show NAME');
  const name = await resolveNode(r, a.positional[0]);
  const e = encodeURIComponent(name);
  const [n, events, timings, allocs] = await Promise.all([
    call(r, 'GET', `/api/v1/nodes/${e}`) as Promise<NodeLite & Record<string, unknown>>,
    call(r, 'GET', `/api/v1/nodes/${e}/events`) as Promise<{ events: Array<{ at: number; from_state: string | null; to_state: string; cause: string }> }>,
    call(r, 'GET', `/api/v1/nodes/${e}/timings`).catch(() => null) as Promise<{ phases: Array<{ state: string; ms: number; open: boolean }>; slowest: number; total_ms: number } | null>,
    call(r, 'GET', `/api/v1/nodes/${e}/allocations`).catch(() => ({ allocations: [] })) as Promise<{ allocations: Array<{ network: string; address: string }> }>,
  ]);
  if (a.json) {
    io.out(JSON.stringify({ ...n, allocations: allocs.allocations, events: events.events, timings }, null, 2) + '\n');
    return 0;
  }
  const inv = n.inventory ?? {};
  const rows: Array<[string, unknown]> = [
    ['name', n.name],
    ['state', n.state + (n.problem_reason ? ` (${n.problem_reason})` : '')],
    ['allocated', n.allocated ? 'yes' : 'no'],
    ['macs', n.macs.join(', ')],
    ['addresses', allocs.allocations.map((x) => `${x.network} ${x.address}`).join(', ') || '-'],
    ['bmc', n.bmc_address ?? '-'],
    ['power driver', n.power_driver],
    ['cpu', inv.cpu_count ? `${inv.cpu_count} x ${inv.cpu_model ?? 'cpu'}` : '-'],
    ['memory', inv.memory_kb ? `${Math.round(inv.memory_kb / 1024 / 1024)} GiB` : '-'],
    ['disks', Array.isArray(inv.disks) ? inv.disks.map((d: { name: string; size_bytes: number }) => `${d.name} ${Math.round(d.size_bytes / 1e9)} GB`).join(', ') : '-'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) io.out(`${k.padEnd(w)}  ${String(v ?? '-')}\n`);
  if (timings && timings.phases.length) {
    io.out('\nphases:\n');
    io.out(formatTable(['PHASE', 'TIME', ''], timings.phases.map((p, i) => [p.state + (p.open ? ' (now)' : ''), formatDuration(p.ms), i === timings.slowest ? '<- slowest' : ''])));
  }
  io.out('\nevents (newest first):\n');
  io.out(formatTable(['AT', 'FROM', 'TO', 'CAUSE'], events.events.slice(0, 20).map((x) => [new Date(x.at).toISOString(), x.from_state ?? '(created)', x.to_state, x.cause])));
  return 0;
}

interface ActionResult {
  node: string;
  from: string;
  to: string;
  effects: Array<{ effect: { type: string }; status: string; error?: string }>;
}

async function act(r: Remote, verb: string, a: Args, io: CliIo): Promise<number> {
  if (a.positional.length === 0) throw new CrowbarError('bad_request', `usage: crowbar machines ${verb} NAME...`);
  const cache = {};
  const names: string[] = [];
  for (const p of a.positional) names.push(await resolveNode(r, p, cache));
  const ac = new AbortController();
  const states = new Map<string, string>();
  let wake: () => void = () => {};
  let stream: { done: Promise<void> } | null = null;
  if (a.wait) {
    // Subscribe before acting so no transition is missed.
    stream = await openStream(r, ac.signal, (e) => {
      const n = e.data?.node as string | undefined;
      if (!n || !names.includes(n)) return;
      states.set(n, e.type === 'node.deleted' ? 'delete' : String(e.data.to));
      wake();
    }).catch(() => null);
  }
  const results: ActionResult[] = [];
  let failed = 0;
  try {
    for (const n of names) {
      try {
        const res = (await call(r, 'POST', `/api/v1/nodes/${encodeURIComponent(n)}/transition`, { to: MACHINE_ACTIONS[verb], reason: `crowbar machines ${verb}` })) as { node: { state: string }; from: string; effects: ActionResult['effects'] };
        results.push({ node: n, from: res.from, to: res.node.state, effects: res.effects });
        states.set(n, res.node.state);
        const bad = res.effects.filter((x) => x.status === 'failed');
        if (bad.length) failed++;
        if (!a.json) {
          const fx = res.effects.filter((x) => x.effect.type !== 'notify').map((x) => `${x.effect.type}: ${x.status}${x.error ? ` (${x.error})` : ''}`);
          io.out(`${n}: ${res.from} -> ${res.node.state}${fx.length ? `  [${fx.join('; ')}]` : ''}\n`);
        }
      } catch (e) {
        failed++;
        io.err(`${n}: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
    if (a.json && !a.wait) io.out(JSON.stringify(results, null, 2) + '\n');
    if (a.wait && results.length) {
      const ok = await waitFor(r, a, results.map((x) => x.node), states, io, (f) => (wake = f));
      if (a.json) io.out(JSON.stringify({ results, states: Object.fromEntries(states) }, null, 2) + '\n');
      if (!ok) return 1;
    }
  } finally {
    ac.abort();
    await stream?.done;
  }
  return failed ? 1 : 0;
}

async function waitFor(r: Remote, a: Args, names: string[], states: Map<string, string>, io: CliIo, setWake: (f: () => void) => void): Promise<boolean> {
  const target = a.wait!;
  const start = Date.now();
  const deadline = start + a.timeoutSec * 1000;
  let lastLine = '';
  const reached = (n: string) => states.get(n) === target;
  const failedNode = (n: string) => states.get(n) === 'problem' && target !== 'problem';
  const progress = (final = false) => {
    const done = names.filter(reached).length;
    const others = names.filter((n) => !reached(n)).map((n) => `${n.split('.')[0]}: ${states.get(n) ?? '?'}`);
    const line = `[${formatDuration(Date.now() - start)}] ${done}/${names.length} ${target}${others.length ? ` · ${others.slice(0, 4).join(', ')}${others.length > 4 ? ` +${others.length - 4}` : ''}` : ''}`;
    if (a.json) return;
    if (io.tty) io.err(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else if (line.replace(/^\[[^\]]*\] /, '') !== lastLine.replace(/^\[[^\]]*\] /, '')) io.err(line + '\n');
    lastLine = line;
  };
  let polled = 0;
  for (;;) {
    // Poll every 5 s as well, in case the stream is unavailable or lagging.
    if (Date.now() - polled >= 5000) {
      polled = Date.now();
      for (const n of names) {
        try {
          states.set(n, ((await call(r, 'GET', `/api/v1/nodes/${encodeURIComponent(n)}`)) as NodeLite).state);
        } catch (e) {
          if (e instanceof RemoteError && e.status === 404) states.set(n, 'delete');
        }
      }
    }
    progress();
    if (names.every(reached)) {
      progress(true);
      return true;
    }
    const bad = names.filter(failedNode);
    if (bad.length) {
      progress(true);
      io.err(`failed: ${bad.join(', ')} went to problem\n`);
      return false;
    }
    if (Date.now() >= deadline) {
      progress(true);
      io.err(`timed out after ${a.timeoutSec}s waiting for ${target}\n`);
      return false;
    }
    await new Promise<void>((res) => {
      const t = setTimeout(res, 1000);
      setWake(() => {
        clearTimeout(t);
        res();
      });
    });
  }
}

/** Run `crowbar machines ...`; returns the exit code. */
export async function machines(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const a = parse(argv);
  const verb = a.positional.shift();
  if (!verb || verb === 'help' || verb === '--help') {
    io.out(MACHINES_USAGE);
    return verb ? 0 : 2;
  }
  const r = resolveRemote(a, env);
  if (verb === 'list') return list(r, a, io);
  if (verb === 'show') return show(r, a, io);
  if (verb in MACHINE_ACTIONS) return act(r, verb, a, io);
  io.err(`crowbar machines: unknown verb ${verb}\n${MACHINES_USAGE}`);
  return 2;
}
