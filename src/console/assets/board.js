// The node board: nodes grouped by rack (when the inventory says) and by
// Crowbar's state buckets, with counts; live from the event stream. Updates
// are coalesced per node and applied once per animation frame, and only the
// tiles that changed are touched, so 1000 nodes stay smooth.
import { api } from './api.js';
import { fmtDuration, h, replace, short } from './dom.js';
import { onEvent } from './events.js';

/** Bucket order and labels (colours in style.css). */
export const BUCKETS = [
  ['ready', 'Ready'],
  ['pending', 'Pending'],
  ['building', 'Building'],
  ['failed', 'Failed'],
  ['unknown', 'Unknown'],
];
const NO_RACK = '';

// Exposed for the browser tests and the benchmark.
const stats = (window.__board = { loaded: false, nodes: 0, applied: 0, frames: 0, lastFrameAt: 0 });

export function mount(root) {
  const tiles = new Map(); // name -> {el, s}
  const racks = new Map(); // rack -> {section, lanes: Map(bucket -> {tiles, count})}
  const counts = Object.fromEntries(BUCKETS.map(([b]) => [b, 0]));
  const pending = new Map(); // name -> summary | null (deleted)
  let cursor = null;
  let early = []; // events that arrived before the snapshot
  let frame = 0;
  let filter = '';

  const countEls = Object.fromEntries(
    BUCKETS.map(([b, label]) => [b, h('button', { class: `count b-${b}`, type: 'button', id: `count-${b}`, dataset: { bucket: b }, title: `show only ${label}` }, h('b', {}, '0'), ' ', label)]),
  );
  const total = h('span', { class: 'total', id: 'count-total' }, '0 nodes');
  const search = h('input', { type: 'search', placeholder: 'filter by name or MAC', id: 'board-filter', 'aria-label': 'filter nodes' });
  const groups = h('div', { class: 'racks', id: 'board' });
  const empty = h('p', { class: 'muted', id: 'board-empty' }, 'No nodes yet. Power on machines on the admin network; they appear here as they are discovered.');
  let only = null;
  for (const [b] of BUCKETS)
    countEls[b].addEventListener('click', () => {
      only = only === b ? null : b;
      groups.dataset.only = only || '';
      for (const [x] of BUCKETS) countEls[x].classList.toggle('on', only === x);
    });
  search.addEventListener('input', () => {
    filter = search.value.trim().toLowerCase();
    for (const t of tiles.values()) t.el.hidden = !matches(t.s);
  });
  const clockLine = h('a', { class: 'clock-line', id: 'board-clock', href: '#/timings', title: 'unboxer clock' });
  const wallBtn = h('button', { type: 'button', id: 'wall-toggle', title: 'wall screen mode (bigger, no menu)' }, 'Wall');
  wallBtn.addEventListener('click', () => {
    const on = !document.body.classList.contains('wall');
    document.body.classList.toggle('wall', on);
    if (on && document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
    if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
  });
  replace(root, h('div', { class: 'board-head' }, h('div', { class: 'counts' }, BUCKETS.map(([b]) => countEls[b]), total), clockLine, search, wallBtn), empty, groups);

  // The batch unboxer clock in one line, refreshed at most every 5 s while nodes move.
  let clockTimer = 0;
  let clockAt = 0;
  async function refreshClock() {
    clockTimer = 0;
    clockAt = Date.now();
    try {
      const t = await api('/api/v1/timings');
      const slow = t.phases.find((p) => p.state === t.slowest);
      setText(clockLine, t.nodes ? `Unboxer clock ${fmtDuration(t.wall_ms)}${t.ready === t.nodes ? ' to all ready' : ' so far'} · ${t.ready}/${t.nodes} ready${slow ? ` · slowest phase: ${slow.state} (median ${fmtDuration(slow.median_ms)})` : ''}` : '');
    } catch {
      /* the board works without it */
    }
  }
  function scheduleClock() {
    if (!clockTimer) clockTimer = setTimeout(refreshClock, Math.max(0, 5000 - (Date.now() - clockAt)));
  }

  function matches(s) {
    return !filter || s.name.toLowerCase().includes(filter) || (s.mac || '').includes(filter);
  }

  function rackOf(s) {
    return s.rack ? (s.chassis ? `${s.rack}` : s.rack) : NO_RACK;
  }

  function rackGroup(rack) {
    let g = racks.get(rack);
    if (g) return g;
    const lanes = new Map();
    const laneEls = BUCKETS.map(([b, label]) => {
      const count = h('span', { class: 'lane-count' }, '0');
      const box = h('div', { class: 'tiles' });
      const lane = h('div', { class: `lane b-${b}`, dataset: { bucket: b } }, h('h3', {}, label, ' ', count), box);
      lanes.set(b, { tiles: box, count, n: 0, lane });
      return lane;
    });
    const title = h('span', {}, rack === NO_RACK ? 'Unplaced' : `Rack ${rack}`);
    const rackTotal = h('span', { class: 'rack-total' });
    const section = h('section', { class: 'rack', dataset: { rack } }, h('h2', {}, title, rackTotal), h('div', { class: 'lanes' }, laneEls));
    g = { section, lanes, n: 0, total: rackTotal };
    racks.set(rack, g);
    // Keep racks sorted (numeric-aware), "Unplaced" last; new racks are rare.
    const order = [...racks.keys()].sort((a, b) => (a === NO_RACK ? 1 : b === NO_RACK ? -1 : a.localeCompare(b, undefined, { numeric: true })));
    for (const r of order) groups.append(racks.get(r).section);
    return g;
  }

  function tileKey(s) {
    return `${s.chassis || ''}\u0000${s.name}`;
  }

  function insertSorted(box, el, key) {
    const kids = box.children;
    let lo = 0;
    let hi = kids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kids[mid].dataset.key < key) lo = mid + 1;
      else hi = mid;
    }
    box.insertBefore(el, kids[lo] || null);
  }

  function paint(el, s) {
    const cls = `tile b-${s.bucket}${s.allocated ? ' allocated' : ''}`;
    if (el.className !== cls) el.className = cls;
    el.dataset.state = s.state;
    el.dataset.bucket = s.bucket;
    el.title = `${s.name}\n${s.state}${s.problem_reason ? `: ${s.problem_reason}` : ''}${s.rack ? `\nrack ${s.rack}${s.chassis ? `, chassis ${s.chassis}` : ''}` : ''}`;
    setText(el.lastChild, s.state);
  }

  function place(s, el) {
    const g = rackGroup(rackOf(s));
    const lane = g.lanes.get(s.bucket) || g.lanes.get('unknown');
    insertSorted(lane.tiles, el, el.dataset.key);
    lane.n++;
    g.n++;
    counts[s.bucket] = (counts[s.bucket] || 0) + 1;
  }

  function unplace(s) {
    const g = racks.get(rackOf(s));
    const lane = g.lanes.get(s.bucket) || g.lanes.get('unknown');
    lane.n--;
    g.n--;
    counts[s.bucket]--;
  }

  function apply(name, s) {
    const t = tiles.get(name);
    if (!s) {
      if (t) {
        unplace(t.s);
        t.el.remove();
        tiles.delete(name);
      }
      return;
    }
    if (!t) {
      const el = h('a', { class: 'tile', href: `#/node/${encodeURIComponent(name)}`, dataset: { node: name, key: tileKey(s) } }, h('span', {}, short(name)), h('small'));
      paint(el, s);
      el.hidden = !matches(s);
      place(s, el);
      tiles.set(name, { el, s });
      return;
    }
    const moved = t.s.bucket !== s.bucket || rackOf(t.s) !== rackOf(s) || tileKey(t.s) !== tileKey(s);
    if (moved) {
      unplace(t.s);
      t.el.dataset.key = tileKey(s);
      place(s, t.el);
    }
    paint(t.el, s);
    t.s = s;
  }

  // Only touch text that changed: rewriting equal text still invalidates layout.
  function setText(el, t) {
    if (el.textContent !== t) el.textContent = t;
  }

  function refreshCounts() {
    for (const [b] of BUCKETS) setText(countEls[b].firstChild, String(counts[b] || 0));
    setText(total, `${tiles.size} node${tiles.size === 1 ? '' : 's'}`);
    for (const [rack, g] of racks) {
      for (const l of g.lanes.values()) {
        setText(l.count, String(l.n));
        if (l.lane.classList.contains('empty') !== (l.n === 0)) l.lane.classList.toggle('empty', l.n === 0);
      }
      if (g.section.hidden !== (g.n === 0)) g.section.hidden = g.n === 0;
      setText(g.total, ` ${g.n} node${g.n === 1 ? '' : 's'}`);
      if (rack === NO_RACK && g.section.classList.contains('only') !== (racks.size === 1)) g.section.classList.toggle('only', racks.size === 1);
    }
    if (empty.hidden !== tiles.size > 0) empty.hidden = tiles.size > 0;
    stats.nodes = tiles.size;
  }

  function flush() {
    frame = 0;
    for (const [name, s] of pending) apply(name, s);
    stats.applied += pending.size;
    pending.clear();
    refreshCounts();
    stats.frames++;
    stats.lastFrameAt = performance.now();
    stats.lastFlushAt = Date.now();
  }

  function queue(e) {
    if (!e.type || !e.type.startsWith('node.')) return;
    if (cursor === null) {
      early.push(e);
      return;
    }
    if (e.id !== null && e.id <= cursor) return;
    const d = e.data || {};
    pending.set(d.node, d.summary || null);
    if (d.summary && d.summary.name !== d.node) pending.set(d.summary.name, d.summary);
    stats.lastQueuedAt = Date.now();
    if (!frame) frame = requestAnimationFrame(flush);
    scheduleClock();
  }

  async function load() {
    cursor = null;
    const snap = await api('/api/v1/board');
    for (const [name] of tiles) if (!snap.nodes.some((n) => n.name === name)) apply(name, null);
    const t0 = performance.now();
    for (const s of snap.nodes) apply(s.name, s);
    cursor = snap.cursor;
    const e0 = early;
    early = [];
    for (const e of e0) queue(e);
    refreshCounts();
    stats.loaded = true;
    stats.renderMs = performance.now() - t0;
  }

  const unsub = onEvent((e) => (e.type === 'stream.reset' ? load() : queue(e)));
  load().catch((e) => replace(root, h('p', { class: 'error' }, `Cannot load nodes: ${e.message}`)));
  refreshClock();
  return () => {
    clearTimeout(clockTimer);
    document.body.classList.remove('wall');
    unsub();
    if (frame) cancelAnimationFrame(frame);
    stats.loaded = false;
  };
}
