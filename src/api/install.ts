/**
 * Installer routes (unauthenticated: the short-lived install token in the
 * path is the credential; docs/os-install.md):
 *
 *   GET  /install/{token}/config            kickstart / preseed / autoinstall user-data (moves the node to installing)
 *   GET  /install/{token}/user-data         the same for subiquity's NoCloud datasource (ds=nocloud-net;s=.../)
 *   GET  /install/{token}/meta-data         NoCloud meta-data; vendor-data is an empty #cloud-config
 *   GET  /install/{token}/post-install.sh   the post-install step
 *   GET  /install/{token}/join-token        the node's long-lived credential (once per token, from the node's address)
 *   GET  /install/{token}/join.tar.gz       the join agent bundle (images/join/)
 *   POST /install/{token}/installed         the post-install report
 *
 * Responses are never cached; the token never appears in a log line.
 */
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';
import type { InstallerService, Served } from '../services/installer.js';

/** Register the installer routes. */
export function registerInstallRoutes(server: Server, installer: InstallerService): void {
  const send = (h: ResponseToolkit, s: Served) => h.response(s.body).type(s.type).header('cache-control', 'no-store');
  const tok = (req: Request): string => String(req.params.token);
  const opts = { auth: false as const, description: 'Installer URL (the short-lived install token in the path is the credential; docs/os-install.md)' };
  server.route([
    { method: 'GET', path: '/install/{token}/config', options: opts, handler: async (req, h) => send(h, await installer.config(tok(req))) },
    { method: 'GET', path: '/install/{token}/user-data', options: opts, handler: async (req, h) => send(h, await installer.config(tok(req))) },
    { method: 'GET', path: '/install/{token}/meta-data', options: opts, handler: (req, h) => send(h, installer.metaData(tok(req))) },
    { method: 'GET', path: '/install/{token}/vendor-data', options: opts, handler: (req, h) => {
        installer.metaData(tok(req));
        return send(h, { body: '#cloud-config\n', type: 'text/cloud-config; charset=utf-8' });
      },
    },
    { method: 'GET', path: '/install/{token}/post-install.sh', options: opts, handler: (req, h) => send(h, installer.postInstall(tok(req))) },
    { method: 'GET', path: '/install/{token}/join-token', options: opts, handler: (req, h) => send(h, installer.joinToken(tok(req), req.info.remoteAddress)) },
    { method: 'GET', path: '/install/{token}/join.tar.gz', options: opts, handler: (req, h) => send(h, installer.joinBundle(tok(req))) },
    { method: 'POST', path: '/install/{token}/installed', options: { ...opts, description: 'Post-install report: the node moves to installed', payload: { maxBytes: 4096, parse: false } }, handler: async (req) => installer.installed(tok(req)) },
  ]);
}
