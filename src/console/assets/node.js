// One node: state, actions (with confirmation), BMC and power, inventory,
// interfaces and addresses, roles, the unboxer clock and the event timeline.
import { api, ApiError, probe } from './api.js';
import { confirmDialog, fmtBytes, fmtDuration, fmtTime, h, kvTable, replace, short, table, toast } from './dom.js';
import { onEvent } from './events.js';

/** Actions offered on a node: [label, transition target, confirmation text, danger]. */
const ACTIONS = [
  ['Allocate', 'hardware-installing', 'Allocate this node: it configures its BMC, BIOS and RAID, then installs its OS.', false],
  ['Reboot', 'reboot', 'Power-cycle this node through its BMC.', false],
  ['Power on', 'poweron', 'Power this node on.', false],
  ['Shut down', 'shutdown', 'Power this node off (hard).', true],
  ['Identify', 'identify', 'Blink the identify light of this node.', false],
  ['Reinstall', 'reinstall', 'Reinstall the operating system: everything on its disks is lost.', true],
  ['Reset', 'reset', 'Reset the node to discovery: it forgets its allocation and boots the discovery image.', true],
  ['Delete', 'delete', 'Delete this node: it is powered off, its addresses are released and it leaves the appliance.', true],
];

/** Colour bucket of a state (same mapping as the server's bucketOf). */
export function bucketOf(state) {
  if (state === 'ready') return 'ready';
  if (state === 'discovered' || state === 'discovering') return 'pending';
  if (state === 'problem') return 'failed';
  if (['delete'].includes(state)) return 'unknown';
  return 'building';
}

export function mount(root, [name], session) {
  let alive = true;
  let timer = 0;
  const canAct = session.role !== 'readonly';

  async function render() {
    let n;
    try {
      n = await api(`/api/v1/nodes/${encodeURIComponent(name)}`);
    } catch (e) {
      if (!alive) return;
      replace(root, h('p', { class: 'error' }, e instanceof ApiError && e.status === 404 ? `Node ${name} does not exist (deleted?).` : `Cannot load ${name}: ${e.message}`), h('a', { href: '#/board' }, '← back to nodes'));
      return;
    }
    const [events, timing, allocs, netplan, power, runlist, logs] = await Promise.all([
      api(`/api/v1/nodes/${encodeURIComponent(n.name)}/events`).catch(() => ({ events: [] })),
      api(`/api/v1/nodes/${encodeURIComponent(n.name)}/timings`).catch(() => null),
      probe(`/api/v1/nodes/${encodeURIComponent(n.name)}/allocations`),
      probe(`/api/v1/nodes/${encodeURIComponent(n.name)}/network`),
      probe(`/api/v1/nodes/${encodeURIComponent(n.name)}/power`),
      probe(`/api/v1/nodes/${encodeURIComponent(n.name)}/runlist`),
      probe(`/api/v1/nodes/${encodeURIComponent(n.name)}/log?limit=500`),
    ]);
    if (!alive) return;
    const inv = n.inventory || {};
    const b = bucketOf(n.state);

    const actions = h(
      'div',
      { class: 'actions', id: 'node-actions' },
      ACTIONS.map(([label, to, text, danger]) =>
        h(
          'button',
          {
            type: 'button',
            class: danger ? 'danger' : '',
            dataset: { action: to },
            disabled: !canAct || (to === 'hardware-installing' && n.state !== 'discovered'),
            title: canAct ? text : 'read-only users cannot act',
            onclick: async () => {
              if (!(await confirmDialog(`${label} ${short(n.name)}?`, text, label))) return;
              try {
                const r = await api(`/api/v1/nodes/${encodeURIComponent(n.name)}/transition`, { method: 'POST', body: { to, reason: `console: ${label.toLowerCase()}` } });
                const failed = (r.effects || []).filter((x) => x.status === 'failed');
                const skipped = (r.effects || []).filter((x) => x.status === 'skipped' && x.effect.type !== 'notify');
                toast(
                  `${label}: ${r.from} → ${r.node.state}` + (failed.length ? `; failed: ${failed.map((x) => `${x.effect.type} (${x.error})`).join(', ')}` : '') + (skipped.length ? `; not performed here: ${skipped.map((x) => x.effect.type).join(', ')}` : ''),
                  failed.length ? 'error' : 'ok',
                );
                render();
              } catch (e) {
                toast(`${label} failed: ${e.message}`, 'error');
              }
            },
          },
          label,
        ),
      ),
    );

    const nics = Array.isArray(inv.nics) ? inv.nics : [];
    const addrRows = allocs.ok ? allocs.data.allocations : [];
    const ifaces = table(
      ['Interface', 'MAC', 'Speed', 'Driver', 'Link'],
      (nics.length ? nics : n.macs.map((m, i) => ({ name: i === 0 ? '(boot)' : '', mac: m }))).map((x) =>
        h('tr', {}, h('td', {}, x.name || ''), h('td', { class: 'mono' }, x.mac || ''), h('td', {}, x.speed_mbps ? `${x.speed_mbps} Mb/s` : '–'), h('td', {}, x.driver || '–'), h('td', {}, x.carrier === 1 ? 'up' : x.carrier === 0 ? 'down' : '–')),
      ),
    );
    const addrs = addrRows.length
      ? table(['Network', 'Address', 'Since'], addrRows.map((a) => h('tr', {}, h('td', {}, a.network), h('td', { class: 'mono' }, a.address), h('td', {}, fmtTime(a.created_at)))), { id: 'node-addresses' })
      : h('p', { class: 'muted' }, 'No address allocated yet.');
    const conduits = netplan.ok && netplan.data.conduits && typeof netplan.data.conduits === 'object' ? Object.entries(netplan.data.conduits) : [];
    const plan = conduits.length
      ? h('div', {}, h('h3', {}, 'Conduits'), table(['Conduit', 'Interfaces', 'Missing'], conduits.map(([name, c]) => h('tr', {}, h('td', {}, name), h('td', { class: 'mono' }, (c.interfaces || []).map((x) => (typeof x === 'string' ? x : x.name || JSON.stringify(x))).join(', ') || '–'), h('td', { class: (c.missing || []).length ? 'error' : '' }, (c.missing || []).join(', ') || '–')))))
      : null;

    const disks = Array.isArray(inv.disks) ? inv.disks : [];
    const dmi = inv.dmi || {};
    const hw = kvTable([
      ['Vendor / model', [dmi.sys_vendor || dmi.system_manufacturer, dmi.product_name || dmi.system_product_name].filter(Boolean).join(' ') || '–'],
      ['Serial', dmi.product_serial || dmi.system_serial_number || '–'],
      ['CPU', inv.cpu_count ? `${inv.cpu_count} × ${inv.cpu_model || 'CPU'}` : '–'],
      ['Memory', inv.memory_kb ? fmtBytes(inv.memory_kb * 1024) : '–'],
      ['Firmware', inv.firmware || '–'],
      ['Rack / chassis', [inv.rack || inv.location?.rack, inv.chassis || inv.location?.chassis].filter(Boolean).join(' / ') || '–'],
    ]);
    const diskTable = disks.length ? table(['Disk', 'Size', 'Model', 'Serial', 'Type'], disks.map((d) => h('tr', {}, h('td', {}, d.name), h('td', {}, fmtBytes(d.size_bytes)), h('td', {}, d.model || '–'), h('td', {}, d.serial || '–'), h('td', {}, d.rotational === 0 ? 'SSD' : d.rotational === 1 ? 'HDD' : '–')))) : null;

    const pw = power.ok ? power.data : null;
    const bmc = h(
      'div',
      { id: 'node-bmc' },
      kvTable([
        ['BMC address', n.bmc_address],
        ['BMC user', n.bmc_user],
        ['Password', n.bmc_password_set ? 'set (encrypted at rest)' : 'not set'],
        ['Power driver', n.power_driver],
        ['Power', pw ? `${pw.state ?? 'unknown'}${pw.checked_at ? ` (checked ${fmtTime(pw.checked_at)})` : ''}` : power.status === 404 ? 'not available (no power API on this appliance)' : `unknown (${power.data?.message || power.status})`],
        pw && pw.fault ? ['BMC fault', `${pw.fault}${pw.fault_count > 1 ? ` (×${pw.fault_count})` : ''}${pw.fault_at ? ` at ${fmtTime(pw.fault_at)}` : ''}`] : null,
      ]),
      pw
        ? h('button', {
            type: 'button',
            id: 'power-check',
            onclick: async () => {
              try {
                const r = await api(`/api/v1/nodes/${encodeURIComponent(n.name)}/power`, { method: 'POST', body: { action: 'status' } });
                toast(`Power: ${r.state}${r.detail ? ` (${r.detail})` : ''}`, 'ok');
              } catch (e) {
                toast(`Power status failed: ${e.message}`, 'error');
              }
              render();
            },
          }, 'Check power now')
        : null,
      pw && Array.isArray(pw.requests) && pw.requests.length
        ? table(['Request', 'Outcome', 'By', 'At'], pw.requests.slice(0, 8).map((q) => h('tr', {}, h('td', {}, q.action), h('td', { title: q.detail || '' }, q.outcome), h('td', {}, q.requested_by), h('td', {}, fmtTime(q.at)))))
        : null,
    );

    const rl = runlist.ok ? runlist.data.roles || runlist.data.run_list || [] : [];
    const roles = runlist.ok
      ? rl.length
        ? table(
            ['Role', 'Proposal', 'Run order', 'Batch'],
            rl.map((r) =>
              typeof r === 'string'
                ? h('tr', {}, h('td', {}, r), h('td'), h('td'), h('td'))
                : h('tr', {}, h('td', {}, r.role || r.name), h('td', {}, r.barclamp && r.proposal ? h('a', { href: `#/proposal/${r.barclamp}/${encodeURIComponent(r.proposal)}` }, `bc-${r.barclamp}-${r.proposal}`) : r.proposal || '–'), h('td', {}, r.run_order ?? '–'), h('td', {}, r.batch ?? '–')),
            ),
            { id: 'node-roles' },
          )
        : h('p', { class: 'muted' }, 'No roles: no committed proposal puts this node in a role.')
      : h('p', { class: 'muted' }, runlist.status === 404 ? 'Roles: not available on this appliance.' : `Run list: ${runlist.data?.message || runlist.status}`);

    replace(
      root,
      h('p', {}, h('a', { href: '#/board' }, '← nodes')),
      h('div', { class: 'node-head' }, h('h1', { id: 'node-name' }, n.name), h('span', { class: `badge b-${b}`, id: 'node-state' }, n.state), n.allocated ? h('span', { class: 'badge' }, 'allocated') : null),
      n.problem_reason ? h('p', { class: 'error' }, `Problem: ${n.problem_reason}`) : null,
      actions,
      h('div', { class: 'grid' },
        h('section', { class: 'card' }, h('h2', {}, 'Hardware'), hw, diskTable),
        h('section', { class: 'card' }, h('h2', {}, 'BMC and power'), bmc),
        h('section', { class: 'card' }, h('h2', {}, 'Interfaces'), ifaces, h('h3', {}, 'Addresses'), addrs, plan),
        h('section', { class: 'card' }, h('h2', {}, 'Roles and proposals'), roles),
        h('section', { class: 'card wide' }, h('h2', {}, 'Unboxer clock'), clock(timing)),
        h('section', { class: 'card wide' }, h('h2', {}, 'Timeline'), timeline(events.events || [])),
        logs.ok ? h('section', { class: 'card wide' }, h('h2', {}, 'Logs'), h('pre', { class: 'log' }, formatLogs(logs.data))) : null,
      ),
    );
  }

  const unsub = onEvent((e) => {
    if (e.data && e.data.node === name && e.type.startsWith('node.')) {
      clearTimeout(timer);
      timer = setTimeout(render, 150);
    }
  });
  render();
  return () => {
    alive = false;
    clearTimeout(timer);
    unsub();
  };
}

function formatLogs(d) {
  const lines = Array.isArray(d) ? d : d.logs || d.lines || [];
  if (!Array.isArray(lines)) return JSON.stringify(d, null, 2);
  return lines.map((l) => (typeof l === 'string' ? l : `${l.at ? fmtTime(l.at) + ' ' : ''}${l.source ? `[${l.source}] ` : ''}${l.line ?? l.message ?? JSON.stringify(l)}`)).join('\n');
}

/** Per-phase bars of one node, slowest highlighted. */
export function clock(t) {
  if (!t || !t.phases || t.phases.length === 0) return h('p', { class: 'muted' }, 'No phases yet.');
  const max = Math.max(...t.phases.map((p) => p.ms), 1);
  return h(
    'div',
    { class: 'clock', id: 'node-clock' },
    h('p', {}, `Time to ready: ${t.ready_at ? fmtDuration(t.total_ms) : `${fmtDuration(t.total_ms)} so far`}`),
    table(
      ['Phase', 'Started', 'Duration', ''],
      t.phases.map((p, i) =>
        h(
          'tr',
          { class: i === t.slowest ? 'slowest' : '' },
          h('td', {}, p.state, p.open ? ' (now)' : ''),
          h('td', {}, fmtTime(p.start)),
          h('td', {}, fmtDuration(p.ms), i === t.slowest ? h('strong', { class: 'tag' }, ' slowest') : null),
          h('td', { class: 'barcell' }, h('span', { class: `bar b-${bucketOf(p.state)}`, style: { width: `${Math.max(1, Math.round((p.ms / max) * 100))}%` } })),
        ),
      ),
    ),
  );
}

function timeline(evs) {
  if (!evs.length) return h('p', { class: 'muted' }, 'No events.');
  return h(
    'ol',
    { class: 'timeline', id: 'node-timeline' },
    evs.map((e) => h('li', {}, h('time', {}, fmtTime(e.at)), ' ', h('span', { class: `badge b-${bucketOf(e.to_state)}` }, e.to_state), e.from_state ? ` from ${e.from_state}` : ' (created)', h('span', { class: 'muted' }, ` — ${e.cause}`))),
  );
}
