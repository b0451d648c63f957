/**
 * OS media routes: `/os/{path*}` (unauthenticated, streamed with ranges:
 * installers and the image-install agent fetch from here) and the admin API
 * `/api/v1/os` to list, import (a path on the appliance) and remove media.
 */
import type { Server } from '@hapi/hapi';
import { CrowbarError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { OsMedia } from '../model/os.js';
import type { OsFileSource } from '../services/os-files.js';
import type { OsImporter } from '../services/os-import.js';
import type { OsMediaRepo } from '../store/os-media.js';
import { requireRole } from './auth.js';
import { FileBodies, registerFileRoute } from './boot-files.js';
import { bodyObject, onlyKeys, reqString } from './validate.js';

/** What the API shows of a medium (plus its HTTP base URL). */
function view(m: OsMedia, publicUrl: string): OsMedia & { url: string } {
  return { ...m, url: `${publicUrl}/os/${m.name}/` };
}

/** Register the OS media routes. */
export function registerOsRoutes(
  server: Server,
  deps: { repo: OsMediaRepo; importer: OsImporter; files: OsFileSource; publicUrl: string; /** Imports ISOs and trees too (src/services/iso-import.ts); default: directories with a manifest. */ importPath?: (path: string) => Promise<OsMedia>; /** How file bodies are sent (shared with /boot/files). */ bodies?: FileBodies },
  log: Logger,
): void {
  registerFileRoute(server, '/os/{path*}', deps.files, log, deps.bodies ?? new FileBodies());
  const get = (name: string): OsMedia => {
    const m = deps.repo.get(name);
    if (!m) throw new CrowbarError('not_found', `OS ${name} is not imported`);
    return m;
  };
  server.route([
    { method: 'GET', path: '/api/v1/os', handler: () => ({ os: deps.repo.list().map((m) => view(m, deps.publicUrl)) }) },
    { method: 'GET', path: '/api/v1/os/{name}', handler: (req) => view(get(String(req.params.name)), deps.publicUrl) },
    {
      method: 'POST',
      path: '/api/v1/os',
      options: { payload: { maxBytes: 8192 } },
      handler: async (req, h) => {
        requireRole(req, 'admin');
        const body = bodyObject(req.payload);
        onlyKeys(body, ['path']);
        const path = reqString(body, 'path', 4096);
        const m = await (deps.importPath ? deps.importPath(path) : deps.importer.importDirectory(path));
        return h.response(view(m, deps.publicUrl)).code(201);
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/os/{name}',
      handler: async (req) => {
        requireRole(req, 'admin');
        await deps.importer.remove(String(req.params.name));
        return { removed: String(req.params.name) };
      },
    },
  ]);
}
