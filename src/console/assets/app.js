// Console entry: session bootstrap, login page, hash router.
import { api, ApiError, setCsrf } from './api.js';
import { h, replace, toast } from './dom.js';
import { connect, disconnect } from './events.js';
import * as board from './board.js';
import * as node from './node.js';
import * as timings from './timings.js';
import * as proposals from './proposals.js';
import * as networks from './networks.js';
import * as admin from './admin.js';

/** The logged-in user ({user, role}) or null. */
export const session = { user: null, role: null };

const routes = [
  [/^#\/board$/, board],
  [/^#\/node\/(.+)$/, node],
  [/^#\/timings$/, timings],
  [/^#\/proposals$/, proposals],
  [/^#\/proposal\/([A-Za-z0-9_]+)\/([A-Za-z0-9_-]+)$/, proposals],
  [/^#\/networks$/, networks],
  [/^#\/admin$/, admin],
];

let unmount = null;
const view = document.getElementById('view');

function route() {
  if (!session.user) return;
  if (unmount) {
    try {
      unmount();
    } catch (e) {
      console.error(e);
    }
    unmount = null;
  }
  const hash = location.hash || '#/board';
  for (const [re, mod] of routes) {
    const m = re.exec(hash);
    if (!m) continue;
    document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', hash.startsWith(`#/${a.dataset.nav}`) || (a.dataset.nav === 'proposals' && hash.startsWith('#/proposal/'))));
    replace(view);
    unmount = mod.mount(view, m.slice(1).map(decodeURIComponent), session) || null;
    return;
  }
  location.hash = '#/board';
}

function showLogin(message) {
  session.user = null;
  document.getElementById('top').hidden = true;
  disconnect();
  if (unmount) {
    unmount();
    unmount = null;
  }
  const err = h('p', { class: 'error', id: 'login-error', role: 'alert' }, message || '');
  const name = h('input', { id: 'login-name', name: 'username', autocomplete: 'username', required: true, value: 'admin' });
  const pw = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', id: 'login-submit' }, 'Log in');
  const form = h(
    'form',
    { class: 'login', id: 'login-form' },
    h('h1', {}, 'Crowbar'),
    h('label', {}, 'User', name),
    h('label', {}, 'Password', pw),
    btn,
    err,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    err.textContent = '';
    try {
      const r = await api('/api/v1/session', { method: 'POST', body: { name: name.value, password: pw.value } });
      setCsrf(r.csrf_token);
      await start({ user: r.user, role: r.role });
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.message : String(e);
      btn.disabled = false;
    }
  });
  replace(view, form);
  pw.focus();
}

async function start(s) {
  session.user = s.user;
  session.role = s.role;
  document.body.dataset.role = s.role;
  document.getElementById('top').hidden = false;
  document.getElementById('who').textContent = `${s.user} (${s.role})`;
  if (location.hash === '' || location.hash === '#/login') location.hash = '#/board';
  await connect();
  route();
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api('/api/v1/session', { method: 'DELETE' });
  } catch (e) {
    toast(e.message, 'error');
  }
  setCsrf(null);
  showLogin('Logged out.');
});
window.addEventListener('hashchange', route);
window.addEventListener('crowbar:unauthorized', () => {
  if (session.user) showLogin('Your session ended; log in again.');
});

(async () => {
  try {
    const s = await api('/api/v1/session');
    if (s.kind !== 'session') throw new Error('not a session');
    setCsrf(s.csrf_token);
    await start(s);
  } catch {
    showLogin();
  }
})();
