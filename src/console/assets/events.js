// One shared EventSource for the whole console. Views subscribe with
// onEvent(); the browser reconnects by itself and the server replays what
// was missed from Last-Event-ID.

const listeners = new Set();
let es = null;
let opened = null;

function setLive(state) {
  const el = document.getElementById('live');
  if (!el) return;
  el.textContent = state;
  el.dataset.state = state;
}

/** Open the stream (idempotent); resolves once it is open (or after 3 s). */
export function connect() {
  if (es) return opened;
  es = new EventSource('/api/v1/events/stream');
  opened = new Promise((res) => {
    es.addEventListener('open', () => res(), { once: true });
    setTimeout(res, 3000);
  });
  es.addEventListener('open', () => setLive('live'));
  es.addEventListener('error', () => setLive(es && es.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting'));
  es.addEventListener('message', (m) => {
    let e;
    try {
      e = JSON.parse(m.data);
    } catch {
      return;
    }
    if (e.type === 'stream.closed') {
      // The session ended elsewhere (logout in another tab, expiry, user deleted).
      disconnect();
      window.dispatchEvent(new CustomEvent('crowbar:unauthorized'));
      return;
    }
    for (const fn of listeners) {
      try {
        fn(e);
      } catch (err) {
        console.error(err);
      }
    }
  });
  return opened;
}

/** Close the stream (log out). */
export function disconnect() {
  if (es) es.close();
  es = null;
  opened = null;
  setLive('offline');
}

/** Subscribe to stream events; returns the unsubscribe function. */
export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
