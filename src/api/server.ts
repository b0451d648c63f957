/**
 * The hapi server: token auth, the error mapper, security headers and the
 * health route. Feature modules register their own routes on it.
 */
import Hapi from '@hapi/hapi';
import Inert from '@hapi/inert';
import type { Logger } from '../lib/logger.js';
import type { TokenRepo } from '../store/tokens.js';
import { registerTokenAuth, type SessionAuth } from './auth.js';
import { errorMapper } from './errors.js';

/** Options for the HTTP server. */
export interface ApiServerOptions {
  host: string;
  port: number;
  tokens: TokenRepo;
  /** Console sessions as a second auth strategy (src/api/session.ts). */
  sessions?: SessionAuth;
  log: Logger;
  /** Extra health information (service status). */
  health: () => Record<string, unknown>;
}

/** Create (not start) the hapi server with auth and error mapping. */
export async function createApiServer(o: ApiServerOptions): Promise<Hapi.Server> {
  const server = Hapi.server({
    host: o.host,
    port: o.port,
    routes: {
      security: { hsts: false, xframe: 'deny', noSniff: true, referrer: 'same-origin' },
      payload: { maxBytes: 1024 * 1024 },
      // Cookies are read by the auth scheme itself (src/api/auth.ts); a foreign malformed cookie must not fail requests.
      state: { parse: false, failAction: 'ignore' },
    },
    router: { stripTrailingSlash: true },
  });
  await server.register(Inert);
  registerTokenAuth(server, o.tokens, o.sessions);
  server.ext('onPreResponse', errorMapper(o.log));
  // Requests that took over a second from arrival to the end of the response (why an operator waited).
  server.events.on('response', (req) => {
    const ms = (req.info.completed || req.info.responded) - req.info.received;
    if (ms > 1000) o.log.warn('slow request', { method: req.method, path: req.path.slice(0, 200), ms, status: (req.response as { statusCode?: number } | null)?.statusCode });
  });
  server.route({
    method: 'GET',
    path: '/api/v1/health',
    options: { auth: false },
    handler: () => ({ status: 'ok', ...o.health() }),
  });
  return server;
}
