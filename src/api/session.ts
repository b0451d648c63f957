/**
 * Console login sessions: POST /api/v1/session (log in, sets the HttpOnly
 * SameSite=Strict cookie), GET (who am I + CSRF token), DELETE (log out).
 */
import type { Request, Server } from '@hapi/hapi';
import { CrowbarError } from '../lib/errors.js';
import type { AccountService } from '../services/accounts.js';
import type { SessionRepo } from '../store/sessions.js';
import { principalOf, sameOrigin, sessionOf, type SessionAuth } from './auth.js';
import { bodyObject, onlyKeys, reqString } from './validate.js';

/** Cookie settings of the console session. */
export interface SessionCookie {
  name: string;
  secure: boolean;
  maxAgeSec: number;
}

/** Cookie settings for a public URL: `__Host-` prefix and Secure over https. */
export function sessionCookie(publicUrl: string, maxAgeSec = 24 * 3600): SessionCookie {
  const secure = publicUrl.startsWith('https:');
  return { name: secure ? '__Host-crowbar_session' : 'crowbar_session', secure, maxAgeSec };
}

/** The SessionAuth adapter over the session table. */
export function sessionAuth(repo: SessionRepo, cookie: SessionCookie, now: () => number): SessionAuth {
  return {
    cookieName: cookie.name,
    lookup: (id) => {
      const s = repo.lookup(id, now());
      return s && { user: s.user, role: s.role, csrf: s.csrf };
    },
  };
}

function setCookie(c: SessionCookie, value: string, maxAge: number): string {
  return `${c.name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${c.secure ? '; Secure' : ''}`;
}

/** Source address of a request (the rate-limit key). */
export function sourceOf(request: Request): string {
  return request.info.remoteAddress || 'unknown';
}

/** Register the session routes. */
export function registerSessionRoutes(server: Server, accounts: AccountService, sessions: SessionRepo, cookie: SessionCookie): void {
  server.route([
    {
      method: 'POST',
      path: '/api/v1/session',
      options: {
        auth: false,
        description: 'Log in to the console (sets the session cookie; rate-limited on wrong passwords)',
        payload: { maxBytes: 8 * 1024 },
      },
      handler: async (req, h) => {
        if (!sameOrigin(req)) throw new CrowbarError('forbidden', 'cross-site login refused');
        const body = bodyObject(req.payload);
        onlyKeys(body, ['name', 'password']);
        const name = reqString(body, 'name', 64);
        const password = reqString(body, 'password', 1024);
        const r = await accounts.login(name, password, sourceOf(req));
        return h
          .response({ user: r.user.name, role: r.user.role, csrf_token: r.csrf })
          .header('set-cookie', setCookie(cookie, r.sessionId, cookie.maxAgeSec))
          .header('cache-control', 'no-store');
      },
    },
    {
      method: 'GET',
      path: '/api/v1/session',
      options: { description: 'The current user, role and (for sessions) the CSRF token' },
      handler: (req, h) => {
        const p = principalOf(req);
        const s = sessionOf(req);
        return h.response({ user: p.name, role: p.role, kind: p.kind, ...(s ? { csrf_token: s.csrf } : {}) }).header('cache-control', 'no-store');
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/session',
      options: { description: 'Log out (ends the session)' },
      handler: (req, h) => {
        const s = sessionOf(req);
        if (!s) throw new CrowbarError('bad_request', 'not a console session (API tokens are revoked with DELETE /api/v1/tokens/{id})');
        sessions.remove(s.id);
        return h.response().code(204).header('set-cookie', setCookie(cookie, '', 0));
      },
    },
  ]);
}
