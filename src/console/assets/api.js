// REST client of the console: JSON in and out, the CSRF token on every
// state-changing request, 401 -> back to the login page.

let csrf = null;

/** Remember the session's CSRF token (from login or GET /api/v1/session). */
export function setCsrf(token) {
  csrf = token;
}

/** An API error with the server's message. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Call the API; resolves with the JSON body (null for 204), throws ApiError. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['x-csrf-token'] = csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await r.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (r.status === 401 && path !== '/api/v1/session') window.dispatchEvent(new CustomEvent('crowbar:unauthorized'));
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/** GET that reports absence instead of throwing: {ok, status, data}. */
export async function probe(path) {
  try {
    return { ok: true, status: 200, data: await api(path) };
  } catch (e) {
    if (e instanceof ApiError) return { ok: false, status: e.status, data: e.body };
    throw e;
  }
}
