/**
 * Authentication for the REST API. Two strategies in one scheme:
 * `Authorization: Bearer <token>` (CLI and API clients) and the console's
 * session cookie (src/api/session.ts). Every route needs one unless it sets
 * `auth: false` (health and the narrow discovery endpoints). Roles:
 * admin > operator > readonly. A state-changing request made with a session
 * must carry the session's CSRF token and a same-origin Origin.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Server, Request, ResponseToolkit } from '@hapi/hapi';
import { CrowbarError } from '../lib/errors.js';
import type { Role, TokenRepo } from '../store/tokens.js';

const RANK: Record<Role, number> = { readonly: 1, operator: 2, admin: 3 };

/** Credentials attached to an authenticated request. */
export interface Principal {
  kind: 'token' | 'session';
  name: string;
  role: Role;
}

/** A console session as seen by the auth scheme. */
export interface SessionCredentials {
  user: string;
  role: Role;
  csrf: string;
}

/** How the auth scheme finds console sessions (wired by the console). */
export interface SessionAuth {
  /** Cookie carrying the session id. */
  cookieName: string;
  /** The live session for a cookie value, or undefined. */
  lookup(id: string): SessionCredentials | undefined;
}

/** Header carrying the CSRF token on state-changing session requests. */
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['get', 'head', 'options']);

/** Value of cookie `name` in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * Cross-site check for browser requests: an Origin header must name this
 * host; without Origin, a Sec-Fetch-Site header must say same-origin.
 * Non-browser clients send neither and are judged by the CSRF token alone.
 */
export function sameOrigin(request: Request): boolean {
  const origin = request.headers.origin;
  if (typeof origin === 'string') {
    if (origin === 'null') return false;
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }
  const site = request.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

function sessionAuth(request: Request, h: ResponseToolkit, sessions: SessionAuth) {
  const id = readCookie(typeof request.headers.cookie === 'string' ? request.headers.cookie : undefined, sessions.cookieName);
  if (!id) return null;
  const s = sessions.lookup(id);
  if (!s) throw new CrowbarError('unauthorized', 'session expired or logged out; log in again');
  if (!SAFE_METHODS.has(request.method)) {
    if (!sameOrigin(request)) throw new CrowbarError('forbidden', 'cross-site request refused (Origin does not match this appliance)');
    const sent = request.headers[CSRF_HEADER];
    const a = Buffer.from(typeof sent === 'string' ? sent : '');
    const b = Buffer.from(s.csrf);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new CrowbarError('forbidden', `missing or wrong CSRF token (send the ${CSRF_HEADER} header from GET /api/v1/session)`);
  }
  const principal: Principal = { kind: 'session', name: s.user, role: s.role };
  const stillValid = () => sessions.lookup(id) !== undefined;
  return h.authenticated({ credentials: { user: principal, session: { id, csrf: s.csrf }, stillValid } as never });
}

/** The console session (cookie value and CSRF token) of a request, if it used one. */
export function sessionOf(request: Request): { id: string; csrf: string } | undefined {
  return (request.auth.credentials as { session?: { id: string; csrf: string } } | null)?.session;
}

/**
 * Register the auth scheme (bearer tokens, plus console sessions when
 * `sessions` is given) and make it the default strategy.
 */
export function registerTokenAuth(server: Server, tokens: TokenRepo, sessions?: SessionAuth): void {
  server.auth.scheme('crowbar-token', () => ({
    authenticate: (request: Request, h: ResponseToolkit) => {
      const header = request.headers.authorization;
      if (header === undefined && sessions) {
        const r = sessionAuth(request, h, sessions);
        if (r) return r;
      }
      const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!m) throw new CrowbarError('unauthorized', 'missing API token (send Authorization: Bearer <token>) or console session');
      const rec = tokens.verify(m[1]);
      if (!rec) throw new CrowbarError('unauthorized', 'invalid API token');
      const principal: Principal = { kind: 'token', name: rec.name, role: rec.role };
      const token = m[1];
      const stillValid = () => tokens.verify(token) !== undefined;
      return h.authenticated({ credentials: { user: principal, stillValid } as never });
    },
  }));
  server.auth.strategy('token', 'crowbar-token');
  server.auth.default('token');
}

/**
 * Whether the credentials a long-lived request (an event stream) was
 * authenticated with are still valid: the session not logged out or
 * expired, the token not revoked. True for requests without credentials.
 */
export function credentialsStillValid(request: Request): boolean {
  const f = (request.auth.credentials as { stillValid?: () => boolean } | null)?.stillValid;
  return f ? f() : true;
}

/** The principal of an authenticated request. */
export function principalOf(request: Request): Principal {
  const p = (request.auth.credentials as { user?: Principal } | null)?.user;
  if (!p) throw new CrowbarError('unauthorized', 'not authenticated');
  return p;
}

/** Throws `forbidden` unless the request's principal has at least `role`. */
export function requireRole(request: Request, role: Role): Principal {
  const p = principalOf(request);
  if (RANK[p.role] < RANK[role]) throw new CrowbarError('forbidden', `${role} role required (you are ${p.role})`);
  return p;
}
