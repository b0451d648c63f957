// The batch unboxer clock: time per phase across every node (median, p90,
// max with the node), wall time from the first event to the last ready node,
// the slowest phase highlighted. Refreshes on node events (debounced).
import { api } from './api.js';
import { fmtDuration, fmtTime, h, replace, short, table } from './dom.js';
import { onEvent } from './events.js';
import { bucketOf } from './node.js';

export function mount(root) {
  let alive = true;
  let timer = 0;
  async function render() {
    let t;
    try {
      t = await api('/api/v1/timings');
    } catch (e) {
      replace(root, h('p', { class: 'error' }, e.message));
      return;
    }
    if (!alive) return;
    const max = Math.max(1, ...t.phases.map((p) => p.median_ms));
    replace(
      root,
      h('h1', {}, 'Unboxer clock'),
      h(
        'div',
        { class: 'stats', id: 'batch-stats' },
        h('div', {}, h('b', {}, String(t.nodes)), ' nodes'),
        h('div', {}, h('b', {}, String(t.ready)), ' ready'),
        h('div', {}, h('b', {}, fmtDuration(t.wall_ms)), t.nodes && t.ready === t.nodes ? ' to the last ready node' : ' so far'),
        h('div', {}, 'since ', fmtTime(t.first_event_at)),
        t.slowest ? h('div', { class: 'slow' }, 'slowest phase: ', h('b', { id: 'slowest-phase' }, t.slowest)) : null,
      ),
      t.phases.length
        ? table(
            ['Phase', 'Nodes', 'Median', 'p90', 'Max', 'Slowest node', ''],
            t.phases.map((p) =>
              h(
                'tr',
                { class: p.state === t.slowest ? 'slowest' : '', dataset: { phase: p.state } },
                h('td', {}, p.state),
                h('td', {}, String(p.nodes)),
                h('td', {}, fmtDuration(p.median_ms)),
                h('td', {}, fmtDuration(p.p90_ms)),
                h('td', {}, fmtDuration(p.max_ms)),
                h('td', {}, h('a', { href: `#/node/${encodeURIComponent(p.max_node)}` }, short(p.max_node))),
                h('td', { class: 'barcell' }, h('span', { class: `bar b-${bucketOf(p.state)}`, style: { width: `${Math.max(1, Math.round((p.median_ms / max) * 100))}%` } })),
              ),
            ),
            { id: 'phase-table' },
          )
        : h('p', { class: 'muted' }, 'No node has moved yet.'),
      h('p', { class: 'muted' }, 'A phase is the time a node spends in a state; ready is the goal and not counted. Per-node clocks are on each node page.'),
    );
  }
  const unsub = onEvent((e) => {
    if (!e.type.startsWith('node.')) return;
    clearTimeout(timer);
    timer = setTimeout(render, 1000);
  });
  render();
  return () => {
    alive = false;
    clearTimeout(timer);
    unsub();
  };
}
