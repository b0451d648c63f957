/**
 * The web console: static assets (plain HTML, CSS and ES modules, no
 * bundler) under /console/, and the browser security headers on every
 * response: a Content-Security-Policy without inline scripts or styles,
 * frame denial, nosniff (hapi's route security settings) and a strict
 * referrer and permissions policy.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';

/** The Content-Security-Policy of the appliance. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Where the console's assets are (source tree, or next to the compiled module). */
export function assetsDir(): string {
  const candidates = [join(import.meta.dirname, 'assets'), resolve(import.meta.dirname, '../../src/console/assets')];
  for (const c of candidates) if (existsSync(join(c, 'index.html'))) return c;
  return candidates[0];
}

function headers(request: Request, h: ResponseToolkit) {
  const r = request.response as unknown as { isBoom?: boolean; header?: (k: string, v: string) => unknown; output?: { headers: Record<string, string> } };
  const set = (k: string, v: string) => {
    if (r.isBoom && r.output) r.output.headers[k] = v;
    else if (r.header) r.header(k, v);
  };
  set('content-security-policy', CSP);
  set('x-frame-options', 'DENY');
  set('x-content-type-options', 'nosniff');
  set('referrer-policy', 'same-origin');
  set('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=()');
  set('cross-origin-opener-policy', 'same-origin');
  set('cross-origin-resource-policy', 'same-origin');
  return h.continue;
}

/** Register the console routes and the security-header extension. */
export function registerConsole(server: Server, dir: string = assetsDir()): void {
  server.ext('onPreResponse', headers);
  server.route([
    { method: 'GET', path: '/', options: { auth: false }, handler: (_req, h) => h.redirect('/console/') },
    {
      method: 'GET',
      path: '/console',
      options: { auth: false },
      handler: (_req, h) => h.file(join(dir, 'index.html'), { confine: dir }).header('cache-control', 'no-cache'),
    },
    {
      method: 'GET',
      path: '/console/{path*}',
      options: { auth: false },
      handler: { directory: { path: dir, index: ['index.html'], listing: false, showHidden: false, redirectToSlash: false } },
    },
  ]);
}
