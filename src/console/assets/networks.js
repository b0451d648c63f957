// Networks (from the network barclamp's API when present) and every IP
// allocation per network.
import { probe } from './api.js';
import { fmtTime, h, replace, short, table } from './dom.js';

export function mount(root) {
  let alive = true;
  (async () => {
    const [nets, allocs] = await Promise.all([probe('/api/v1/networks'), probe('/api/v1/allocations')]);
    if (!alive) return;
    const netSection = nets.ok
      ? table(
          ['Network', 'Conduit', 'VLAN', 'Subnet', 'Router', 'Ranges'],
          Object.entries(nets.data.networks || {}).map(([name, n]) =>
            h(
              'tr',
              {},
              h('td', {}, name),
              h('td', {}, n.conduit || '–'),
              h('td', {}, n.use_vlan ? String(n.vlan) : 'untagged'),
              h('td', { class: 'mono' }, n.subnet ? `${n.subnet}/${n.netmask}` : '–'),
              h('td', { class: 'mono' }, n.router || '–'),
              h('td', { class: 'mono' }, Object.entries(n.ranges || {}).map(([r, v]) => `${r}: ${v.start}–${v.end}`).join('\n')),
            ),
          ),
          { id: 'networks' },
        )
      : h('p', { class: 'muted', id: 'networks-unavailable' }, 'Network definitions: not available (the network barclamp API is not installed on this appliance).');
    const list = allocs.ok ? allocs.data.allocations : [];
    const byNet = new Map();
    for (const a of list) (byNet.get(a.network) || byNet.set(a.network, []).get(a.network)).push(a);
    const allocSection = list.length
      ? [...byNet.entries()].map(([net, rows]) =>
          h(
            'section',
            { class: 'card' },
            h('h3', {}, `${net} (${rows.length})`),
            table(['Address', 'Node', 'Since'], rows.map((a) => h('tr', {}, h('td', { class: 'mono' }, a.address), h('td', {}, a.node ? h('a', { href: `#/node/${encodeURIComponent(a.node)}` }, short(a.node)) : `#${a.node_id}`), h('td', {}, fmtTime(a.created_at))))),
          ),
        )
      : h('p', { class: 'muted' }, allocs.ok ? 'No addresses allocated yet.' : `Allocations: ${allocs.data?.message || 'not available'}`);
    replace(root, h('h1', {}, 'Networks'), netSection, h('h2', {}, 'Allocations'), h('div', { class: 'grid', id: 'allocations' }, allocSection));
  })();
  return () => {
    alive = false;
  };
}
