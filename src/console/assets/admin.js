// Admin: users and roles, API tokens, webhooks and their delivery log.
import { api } from './api.js';
import { confirmDialog, fmtTime, h, replace, table, toast } from './dom.js';

export function mount(root, _params, session) {
  let alive = true;
  if (session.role !== 'admin') {
    replace(root, h('p', { class: 'error' }, 'Administration needs the admin role.'));
    return () => {};
  }
  const secretBox = h('div', { id: 'secret-box' });
  function showSecret(label, value) {
    replace(secretBox, h('div', { class: 'secret' }, h('p', {}, `${label} (shown once, copy it now):`), h('code', { class: 'mono', id: 'secret-value' }, value)));
  }
  async function render() {
    const [users, tokens, hooks] = await Promise.all([api('/api/v1/users'), api('/api/v1/tokens'), api('/api/v1/webhooks')]);
    if (!alive) return;
    const uName = h('input', { placeholder: 'name', name: 'name', required: true });
    const uRole = h('select', { name: 'role' }, ['readonly', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
    const uPw = h('input', { type: 'password', name: 'password', placeholder: 'password (10+ characters)', autocomplete: 'new-password', required: true });
    const uForm = h('form', { class: 'inline', id: 'user-form' }, uName, uRole, uPw, h('button', { type: 'submit' }, 'Add user'));
    uForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api('/api/v1/users', { method: 'POST', body: { name: uName.value, role: uRole.value, password: uPw.value } });
        toast(`User ${uName.value} added`, 'ok');
        render();
      } catch (err) {
        toast(err.message, 'error');
      }
    });
    const tName = h('input', { placeholder: 'token name', name: 'name', required: true });
    const tRole = h('select', { name: 'role' }, ['readonly', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
    const tForm = h('form', { class: 'inline', id: 'token-form' }, tName, tRole, h('button', { type: 'submit' }, 'Create token'));
    tForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const t = await api('/api/v1/tokens', { method: 'POST', body: { name: tName.value, role: tRole.value } });
        await render();
        showSecret(`API token ${t.name}`, t.token);
      } catch (err) {
        toast(err.message, 'error');
      }
    });
    const wUrl = h('input', { placeholder: 'https://receiver.example/hook', name: 'url', size: 40, required: true, id: 'webhook-url' });
    const wEvents = h('input', { placeholder: 'events', name: 'events', value: 'node.*, proposal.*', id: 'webhook-events' });
    const wForm = h('form', { class: 'inline', id: 'webhook-form' }, wUrl, wEvents, h('button', { type: 'submit' }, 'Add webhook'));
    wForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const w = await api('/api/v1/webhooks', { method: 'POST', body: { url: wUrl.value, events: wEvents.value.split(',').map((x) => x.trim()).filter(Boolean) } });
        await render();
        showSecret(`Signing secret of webhook ${w.id}`, w.secret);
      } catch (err) {
        toast(err.message, 'error');
      }
    });
    const del = (what, url) => async () => {
      if (!(await confirmDialog(`Delete ${what}?`, 'This cannot be undone.', 'Delete'))) return;
      try {
        await api(url, { method: 'DELETE' });
        render();
      } catch (err) {
        toast(err.message, 'error');
      }
    };
    const roleSelect = (u) => {
      const sel = h('select', { 'aria-label': `role of ${u.name}` }, ['readonly', 'operator', 'admin'].map((r) => h('option', { value: r, selected: r === u.role }, r)));
      sel.addEventListener('change', async () => {
        if (!(await confirmDialog(`Make ${u.name} ${sel.value}?`, 'Their sessions end; they log in again with the new role.', 'Change role'))) {
          sel.value = u.role;
          return;
        }
        try {
          await api(`/api/v1/users/${encodeURIComponent(u.name)}`, { method: 'PATCH', body: { role: sel.value } });
          toast(`${u.name} is now ${sel.value}`, 'ok');
        } catch (err) {
          toast(err.message, 'error');
        }
        render();
      });
      return sel;
    };
    const setPassword = (name) => () => {
      const pw = h('input', { type: 'password', autocomplete: 'new-password', placeholder: 'new password (10+ characters)', 'aria-label': `new password for ${name}` });
      const f = h('form', { class: 'inline' }, pw, h('button', { type: 'submit' }, `Set password of ${name}`));
      f.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: 'PATCH', body: { password: pw.value } });
          toast(`Password of ${name} changed; their sessions ended`, 'ok');
          replace(secretBox);
        } catch (err) {
          toast(err.message, 'error');
        }
      });
      replace(secretBox, f);
      pw.focus();
    };
    const log = h('div', { id: 'deliveries' });
    const showLog = (id) => async () => {
      const d = await api(`/api/v1/webhooks/${id}/deliveries?limit=50`);
      replace(
        log,
        h('h3', {}, `Deliveries of webhook ${id}`),
        table(
          ['#', 'Event', 'Status', 'Attempts', 'Last answer', 'Created', 'Delivered'],
          d.deliveries.map((x) => h('tr', { class: `delivery-${x.status}` }, h('td', {}, String(x.id)), h('td', {}, x.event_type), h('td', {}, x.status), h('td', {}, String(x.attempts)), h('td', {}, x.last_error || (x.last_status_code ? `HTTP ${x.last_status_code}` : '–')), h('td', {}, fmtTime(x.created_at)), h('td', {}, fmtTime(x.delivered_at)))),
          { id: 'delivery-table' },
        ),
      );
    };
    replace(
      root,
      h('h1', {}, 'Administration'),
      secretBox,
      h('section', { class: 'card' }, h('h2', {}, 'Users'), table(['User', 'Role', 'Last login', ''], users.users.map((u) => h('tr', { dataset: { user: u.name } }, h('td', {}, u.name), h('td', {}, roleSelect(u)), h('td', {}, fmtTime(u.last_login_at)), h('td', {}, h('button', { type: 'button', onclick: setPassword(u.name) }, 'Set password'), ' ', h('button', { type: 'button', class: 'danger', onclick: del(`user ${u.name}`, `/api/v1/users/${encodeURIComponent(u.name)}`) }, 'Delete'))))), uForm),
      h('section', { class: 'card' }, h('h2', {}, 'API tokens'), table(['Name', 'Role', 'Created', ''], tokens.tokens.map((t) => h('tr', {}, h('td', {}, t.name), h('td', {}, t.role), h('td', {}, fmtTime(t.created_at)), h('td', {}, h('button', { type: 'button', class: 'danger', onclick: del(`token ${t.name}`, `/api/v1/tokens/${t.id}`) }, 'Revoke'))))), tForm),
      h(
        'section',
        { class: 'card wide' },
        h('h2', {}, 'Webhooks'),
        h('p', { class: 'muted' }, 'Each delivery is a POST of JSON signed with X-Crowbar-Signature: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>"); failures are retried with exponential backoff.'),
        table(
          ['#', 'URL', 'Events', 'Enabled', ''],
          hooks.webhooks.map((w) =>
            h(
              'tr',
              { dataset: { webhook: String(w.id) } },
              h('td', {}, String(w.id)),
              h('td', { class: 'mono' }, w.url),
              h('td', {}, w.events.join(', ')),
              h('td', {}, w.enabled ? 'yes' : 'no'),
              h(
                'td',
                {},
                h('button', { type: 'button', onclick: showLog(w.id), dataset: { log: String(w.id) } }, 'Deliveries'),
                ' ',
                h('button', { type: 'button', onclick: async () => { await api(`/api/v1/webhooks/${w.id}/ping`, { method: 'POST' }); toast('Ping queued', 'ok'); } }, 'Ping'),
                ' ',
                h('button', { type: 'button', class: 'danger', onclick: del(`webhook ${w.id}`, `/api/v1/webhooks/${w.id}`) }, 'Delete'),
              ),
            ),
          ),
          { id: 'webhooks' },
        ),
        wForm,
        log,
      ),
    );
  }
  render().catch((e) => replace(root, h('p', { class: 'error' }, e.message)));
  return () => {
    alive = false;
  };
}
