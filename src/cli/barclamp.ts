/**
 * `crowbar barclamp list|show|install|uninstall` over the REST API
 * (`create` is local and lives in src/cli.ts, which may use the barclamp
 * loader).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { CrowbarError } from '../lib/errors.js';
import { apiCall, type ClientOptions } from './client.js';
import { packBarclampDir } from './pack.js';

/** Output sink (stdout in production, captured in tests). */
export type Out = (text: string) => void;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

/** Run a barclamp subcommand; returns the exit code. */
export async function barclampCommand(c: ClientOptions, args: string[], out: Out): Promise<number> {
  const [verb, ...rest] = args;
  switch (verb) {
    case 'list': {
      const r = await apiCall(c, 'GET', '/api/v1/barclamps');
      const rows = [['NAME', 'VERSION', 'RUN_ORDER', 'SOURCE', 'REQUIRES', 'ROLES']];
      for (const b of r.barclamps) rows.push([b.name, b.version, String(b.run_order), b.source, b.requires.join(',') || '-', b.roles.join(',')]);
      out(table(rows));
      return 0;
    }
    case 'show': {
      if (!rest[0]) throw new CrowbarError('bad_request', 'usage: crowbar barclamp show NAME');
      out(JSON.stringify(await apiCall(c, 'GET', `/api/v1/barclamps/${encodeURIComponent(rest[0])}`), null, 2) + '\n');
      return 0;
    }
    case 'install': {
      const path = rest[0];
      if (!path) throw new CrowbarError('bad_request', 'usage: crowbar barclamp install PATH|ARCHIVE');
      if (!existsSync(path)) throw new CrowbarError('not_found', `${path} does not exist`);
      const data = statSync(path).isDirectory() ? packBarclampDir(path) : readFileSync(path);
      const r = await apiCall(c, 'POST', '/api/v1/barclamps', undefined, { data, type: data[0] === 0x1f && data[1] === 0x8b ? 'application/gzip' : 'application/x-tar' });
      out(`${r.previous_version === null ? 'installed' : `upgraded (from ${r.previous_version})`} ${r.name} ${r.version} sha256:${r.sha256}\n`);
      for (const m of r.migrated) out(`  migrated ${m.proposal}: schema revision ${m.from} -> ${m.to}\n`);
      return 0;
    }
    case 'uninstall': {
      if (!rest[0]) throw new CrowbarError('bad_request', 'usage: crowbar barclamp uninstall NAME');
      const r = await apiCall(c, 'DELETE', `/api/v1/barclamps/${encodeURIComponent(rest[0])}`);
      out(`uninstalled ${r.name}${r.deleted_proposals.length ? ` (deleted proposals: ${r.deleted_proposals.join(', ')})` : ''}\n`);
      return 0;
    }
    default:
      throw new CrowbarError('bad_request', `unknown barclamp command ${JSON.stringify(verb ?? '')} (list, show, create, install, uninstall)`);
  }
}
