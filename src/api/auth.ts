/**
 * Token authentication for the REST API: `Authorization: Bearer <token>`.
 * Every route needs it unless it sets `auth: false` (health and the narrow
 * discovery endpoints). Roles: admin > operator > readonly.
 */
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

/** Register the `token` scheme and make it the default strategy. */
export function registerTokenAuth(server: Server, tokens: TokenRepo): void {
  server.auth.scheme('crowbar-token', () => ({
    authenticate: (request: Request, h: ResponseToolkit) => {
      const header = request.headers.authorization;
      const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!m) throw new CrowbarError('unauthorized', 'missing API token (send Authorization: Bearer <token>)');
      const rec = tokens.verify(m[1]);
      if (!rec) throw new CrowbarError('unauthorized', 'invalid API token');
      const principal: Principal = { kind: 'token', name: rec.name, role: rec.role };
      return h.authenticated({ credentials: { user: principal } as never });
    },
  }));
  server.auth.strategy('token', 'crowbar-token');
  server.auth.default('token');
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
