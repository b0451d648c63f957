// Barclamps and proposals against the barclamps API when the appliance has
// it: list, create, edit with a schema-driven form and validation messages,
// diff before commit, commit, status, dequeue.
import { api, ApiError, probe } from './api.js';
import { confirmDialog, fmtTime, h, replace, table, toast } from './dom.js';
import { onEvent } from './events.js';
import { buildForm, showErrors, validate } from './schema-form.js';

const STATUS_BUCKET = { applied: 'ready', draft: 'pending', queued: 'pending', committing: 'building', failed: 'failed' };

function badge(status) {
  return h('span', { class: `badge b-${STATUS_BUCKET[status] || 'unknown'}`, dataset: { status } }, status);
}

export function mount(root, params, session) {
  return params.length === 2 ? edit(root, params[0], params[1], session) : list(root, session);
}

function unavailable(root) {
  replace(root, h('h1', {}, 'Barclamps'), h('p', { class: 'muted', id: 'proposals-unavailable' }, 'Barclamps and proposals: not available on this appliance (no /api/v1/proposals API).'));
}

function list(root, session) {
  let alive = true;
  async function render() {
    const [bcs, props] = await Promise.all([probe('/api/v1/barclamps'), probe('/api/v1/proposals')]);
    if (!alive) return;
    if (!props.ok && props.status === 404) return unavailable(root);
    if (!bcs.ok || !props.ok) return replace(root, h('p', { class: 'error' }, (bcs.data || props.data || {}).message || 'cannot load barclamps'));
    const byBc = new Map();
    for (const p of props.data.proposals) (byBc.get(p.barclamp) || byBc.set(p.barclamp, []).get(p.barclamp)).push(p);
    const canEdit = session.role !== 'readonly';
    const rows = bcs.data.barclamps
      .sort((a, b) => (a.run_order ?? a.order ?? 0) - (b.run_order ?? b.order ?? 0))
      .map((b) => {
        const ps = byBc.get(b.name) || [];
        const nameIn = h('input', { placeholder: 'proposal name', value: ps.length ? '' : 'default', size: 12, 'aria-label': `new ${b.name} proposal name`, dataset: { newFor: b.name } });
        const create = h(
          'form',
          { class: 'inline', dataset: { create: b.name } },
          nameIn,
          h('button', { type: 'submit', disabled: !canEdit }, 'New proposal'),
        );
        create.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          try {
            await api(`/api/v1/barclamps/${b.name}/proposals`, { method: 'POST', body: { name: nameIn.value.trim() } });
            location.hash = `#/proposal/${b.name}/${encodeURIComponent(nameIn.value.trim())}`;
          } catch (e) {
            toast(e.message, 'error');
          }
        });
        return h(
          'tr',
          { dataset: { barclamp: b.name } },
          h('td', {}, h('b', {}, b.display || b.name), h('br'), h('small', { class: 'muted' }, b.description || '')),
          h('td', {}, b.version || ''),
          h('td', {}, (b.requires || []).join(', ') || '–'),
          h('td', {}, ps.length ? ps.map((p) => h('div', {}, h('a', { href: `#/proposal/${b.name}/${encodeURIComponent(p.name)}`, dataset: { proposal: p.id } }, p.name), ' ', badge(p.status), p.pending_changes ? h('small', { class: 'muted' }, ' (uncommitted changes)') : null)) : h('span', { class: 'muted' }, 'none')),
          h('td', {}, create),
        );
      });
    replace(root, h('h1', {}, 'Barclamps'), table(['Barclamp', 'Version', 'Requires', 'Proposals', ''], rows, { id: 'barclamps' }));
  }
  const unsub = onEvent((e) => {
    if (e.type.startsWith('proposal.') || e.type.startsWith('barclamp.')) render();
  });
  render();
  return () => {
    alive = false;
    unsub();
  };
}

function edit(root, bc, name, session) {
  let alive = true;
  const base = `/api/v1/barclamps/${bc}/proposals/${encodeURIComponent(name)}`;
  const canEdit = session.role !== 'readonly';

  async function render(message) {
    const [bcr, pr] = await Promise.all([probe(`/api/v1/barclamps/${bc}`), probe(base)]);
    if (!alive) return;
    if (!pr.ok) return pr.status === 404 && !bcr.ok ? unavailable(root) : replace(root, h('p', { class: 'error' }, pr.data?.message || 'cannot load the proposal'), h('a', { href: '#/proposals' }, '← barclamps'));
    const view = pr.data;
    const doc = view.proposal;
    const schema = (bcr.ok && bcr.data.schema) || {};
    const attrSchema = schema.properties?.attributes?.properties?.[bc] || { type: 'object' };
    const form = buildForm(attrSchema, doc.attributes?.[bc], `attributes.${bc}`, 'Attributes');
    const dep = doc.deployment?.[bc] || { elements: {} };
    const roles = [...new Set([...Object.keys(dep.elements || {}), ...(dep.element_order || []).flat(), ...Object.keys(bcr.ok ? bcr.data.manifest?.roles || {} : {})])];
    const roleInputs = new Map();
    const roleFields = roles.map((r) => {
      const ta = h('textarea', { name: `elements.${r}`, rows: 2, placeholder: 'node names, one per line', dataset: { role: r } });
      ta.value = (dep.elements?.[r] || []).join('\n');
      roleInputs.set(r, ta);
      const err = h('span', { class: 'field-error', role: 'alert', dataset: { for: `deployment.${bc}.elements.${r}` } });
      form.fields.set(`deployment.${bc}.elements.${r}`, { setError: (m) => (err.textContent = m || '') });
      return h('label', { class: 'field' }, h('span', { class: 'field-label' }, `Role ${r}`), ta, err);
    });
    const errorsBox = h('ul', { class: 'errors', id: 'proposal-errors', role: 'alert' });
    const diffBox = h('div', { id: 'proposal-diff' });
    const resultBox = h('div', { id: 'proposal-result' }, message ? h('p', { class: 'ok' }, message) : null);

    function collect() {
      const next = structuredClone(doc);
      next.attributes = { ...(next.attributes || {}), [bc]: form.get() };
      next.deployment = next.deployment || {};
      next.deployment[bc] = { ...dep, elements: Object.fromEntries([...roleInputs].map(([r, ta]) => [r, ta.value.split('\n').map((x) => x.trim()).filter(Boolean)])) };
      delete next.deployment[bc].element_states;
      return next;
    }
    function report(errors) {
      const rest = showErrors(form.fields, errors);
      replace(errorsBox, errors.map((e) => h('li', {}, `${e.path || '(proposal)'}: ${e.message}`)));
      return rest;
    }
    async function save() {
      let next;
      try {
        next = collect();
      } catch (e) {
        report([e]);
        return false;
      }
      const errs = schema.type ? validate(schema, next) : [];
      if (errs.length) {
        report(errs);
        toast(`${errs.length} problem${errs.length === 1 ? '' : 's'} in the proposal; nothing was saved`, 'error');
        return false;
      }
      try {
        await api(base, { method: 'PUT', body: next });
      } catch (e) {
        if (e instanceof ApiError && e.body?.details?.errors) report(e.body.details.errors);
        else report([{ path: '', message: e.message }]);
        toast(`Not saved: ${e.message}`, 'error');
        return false;
      }
      report([]);
      return true;
    }
    async function showDiff() {
      const d = await api(`${base}/diff`);
      replace(
        diffBox,
        h('h3', {}, 'What a commit will change'),
        d.changes.length
          ? table(['Path', 'Change', 'From', 'To'], d.changes.map((c) => h('tr', { class: `diff-${c.op}` }, h('td', { class: 'mono' }, c.path), h('td', {}, c.op), h('td', { class: 'mono' }, c.from === undefined ? '' : JSON.stringify(c.from)), h('td', { class: 'mono' }, c.to === undefined ? '' : JSON.stringify(c.to)))), { class: 'diff' })
          : h('p', { class: 'muted', id: 'diff-empty' }, 'No changes against what is applied.'),
        Object.keys(d.nodes || {}).length ? h('ul', {}, Object.entries(d.nodes).map(([n, x]) => h('li', {}, `${n}: `, x.add.length ? `+${x.add.join(', +')} ` : '', x.remove.length ? `−${x.remove.join(', −')}` : ''))) : null,
        d.problems?.length ? h('p', { class: 'error' }, `Problems: ${d.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`) : null,
        d.waiting_for?.length ? h('p', { class: 'muted' }, `A commit would be queued: ${d.waiting_for.join('; ')}`) : null,
      );
      return d;
    }

    const saveBtn = h('button', { type: 'button', id: 'proposal-save', disabled: !canEdit }, 'Save');
    const diffBtn = h('button', { type: 'button', id: 'proposal-diff-btn' }, 'Show diff');
    const commitBtn = h('button', { type: 'button', id: 'proposal-commit', class: 'primary', disabled: !canEdit }, 'Commit');
    const dequeueBtn = view.status === 'queued' ? h('button', { type: 'button', id: 'proposal-dequeue', disabled: !canEdit }, 'Dequeue') : null;
    saveBtn.addEventListener('click', async () => {
      if (await save()) {
        toast('Saved', 'ok');
        await render('Saved. Review the diff, then commit.');
      }
    });
    diffBtn.addEventListener('click', () => showDiff().catch((e) => toast(e.message, 'error')));
    commitBtn.addEventListener('click', async () => {
      if (!(await save())) return;
      const d = await showDiff();
      if (!(await confirmDialog(`Commit ${view.id}?`, `${d.changes.length} change(s) will be applied${d.waiting_for?.length ? ' once: ' + d.waiting_for.join('; ') : ''}.`, 'Commit'))) return;
      try {
        const r = await api(`${base}/commit`, { method: 'POST' });
        await render(`Commit: ${r.status}${r.waiting_for?.length ? ` (waiting for ${r.waiting_for.join('; ')})` : ''}`);
      } catch (e) {
        toast(`Commit failed: ${e.message}`, 'error');
      }
    });
    if (dequeueBtn)
      dequeueBtn.addEventListener('click', async () => {
        try {
          await api(`${base}/dequeue`, { method: 'POST' });
          await render('Dequeued.');
        } catch (e) {
          toast(e.message, 'error');
        }
      });

    replace(
      root,
      h('p', {}, h('a', { href: '#/proposals' }, '← barclamps')),
      h('div', { class: 'node-head' }, h('h1', {}, view.id), h('span', { id: 'proposal-status' }, badge(view.status))),
      h('p', { class: 'muted' }, `revision ${view.revision} · updated ${fmtTime(view.updated_at)}${view.applied_at ? ` · applied ${fmtTime(view.applied_at)}` : ''}${view.pending_changes ? ' · uncommitted changes' : ''}`),
      view.status_reason ? h('p', { class: view.status === 'failed' ? 'error' : 'muted' }, view.status_reason) : null,
      resultBox,
      h('form', { class: 'proposal', id: 'proposal-form', onsubmit: (e) => e.preventDefault() }, form.el, h('fieldset', { class: 'obj' }, h('legend', {}, 'Deployment'), roleFields)),
      errorsBox,
      h('div', { class: 'actions' }, saveBtn, diffBtn, commitBtn, dequeueBtn),
      diffBox,
    );
  }
  const unsub = onEvent((e) => {
    if (e.type.startsWith('proposal.') && e.data?.proposal === `bc-${bc}-${name}`) {
      const st = document.getElementById('proposal-status');
      if (st) probe(base).then((r) => r.ok && alive && replace(st, badge(r.data.status)));
    }
  });
  render();
  return () => {
    alive = false;
    unsub();
  };
}
