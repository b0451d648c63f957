/**
 * `crowbar <barclamp> proposal list|create|show|edit|diff|commit|status|dequeue|delete`
 * over the REST API. `edit NAME` takes `--file FILE` (the whole proposal as
 * JSON) and/or `--set path=value` (value parsed as JSON when it parses,
 * else a string), or opens $EDITOR on the current proposal.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { apiCall, type ClientOptions } from './client.js';
import type { Out } from './barclamp.js';

/** Set `path` (dot-separated, numeric segments index arrays) in `doc`. */
export function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur: any = doc;
  for (const k of keys.slice(0, -1)) {
    if (cur[k] === undefined || cur[k] === null || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k];
  }
  cur[keys[keys.length - 1]] = value;
}

function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** Run a proposal subcommand for barclamp `bc`; returns the exit code. */
export async function proposalCommand(c: ClientOptions, bc: string, args: string[], out: Out): Promise<number> {
  const [verb, name, ...rest] = args;
  const base = `/api/v1/barclamps/${encodeURIComponent(bc)}/proposals`;
  const one = () => {
    if (!name) throw new CrowbarError('bad_request', `usage: crowbar ${bc} proposal ${verb} NAME`);
    return `${base}/${encodeURIComponent(name)}`;
  };
  switch (verb) {
    case 'list': {
      const r = await apiCall(c, 'GET', base);
      if (r.proposals.length === 0) out(`no proposals for ${bc}\n`);
      for (const p of r.proposals) out(`${p.id}  ${p.status}${p.pending_changes ? ' (pending changes)' : ''}${p.status_reason ? `  ${p.status_reason}` : ''}\n`);
      return 0;
    }
    case 'create': {
      if (!name) throw new CrowbarError('bad_request', `usage: crowbar ${bc} proposal create NAME [--description TEXT]`);
      const di = rest.indexOf('--description');
      const r = await apiCall(c, 'POST', base, { name, ...(di >= 0 ? { description: rest[di + 1] } : {}) });
      out(`created ${r.id}\n`);
      for (const [role, nodes] of Object.entries(r.proposal.deployment[bc].elements as Record<string, string[]>)) out(`  ${role}: ${nodes.join(', ') || '(no nodes)'}\n`);
      return 0;
    }
    case 'show':
      out(JSON.stringify((await apiCall(c, 'GET', one())).proposal, null, 2) + '\n');
      return 0;
    case 'status': {
      const r = await apiCall(c, 'GET', `${one()}/status`);
      out(`${r.proposal}: ${r.status}${r.reason ? ` (${r.reason})` : ''}\n`);
      for (const [n, roles] of Object.entries(r.nodes as Record<string, Record<string, string>>))
        out(`  ${n}: ${Object.entries(roles).map(([role, st]) => `${role}=${st}`).join(' ')}\n`);
      return 0;
    }
    case 'diff': {
      const r = await apiCall(c, 'GET', `${one()}/diff`);
      for (const ch of r.changes) out(`${ch.op === 'add' ? '+' : ch.op === 'remove' ? '-' : '~'} ${ch.path}: ${ch.op === 'add' ? JSON.stringify(ch.to) : ch.op === 'remove' ? JSON.stringify(ch.from) : `${JSON.stringify(ch.from)} -> ${JSON.stringify(ch.to)}`}\n`);
      for (const [n, d] of Object.entries(r.nodes as Record<string, { add: string[]; remove: string[] }>))
        out(`node ${n}: ${[...d.add.map((x) => `+${x}`), ...d.remove.map((x) => `-${x}`)].join(' ')}\n`);
      if (r.changes.length === 0 && Object.keys(r.nodes).length === 0) out('no changes\n');
      for (const p of r.problems) out(`problem: ${p.path}: ${p.message}\n`);
      for (const w of r.waiting_for) out(`commit would wait for: ${w}\n`);
      return 0;
    }
    case 'edit': {
      const cur = (await apiCall(c, 'GET', one())).proposal as Record<string, unknown>;
      let doc = cur;
      const sets: Array<[string, unknown]> = [];
      let file: string | undefined;
      for (let i = 0; i < rest.length; i++) {
        if (rest[i] === '--file') file = rest[++i];
        else if (rest[i] === '--set') {
          const kv = rest[++i] ?? '';
          const eq = kv.indexOf('=');
          if (eq <= 0) throw new CrowbarError('bad_request', `--set needs path=value, got ${JSON.stringify(kv)}`);
          sets.push([kv.slice(0, eq), parseValue(kv.slice(eq + 1))]);
        } else throw new CrowbarError('bad_request', `unknown edit option ${rest[i]}`);
      }
      if (file) {
        try {
          doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        } catch (e) {
          throw new CrowbarError('bad_request', `${file}: ${errorMessage(e)}`);
        }
      }
      for (const [p, v] of sets) setPath(doc, p, v);
      if (!file && sets.length === 0) {
        const dir = mkdtempSync(join(tmpdir(), 'crowbar-edit-'));
        const f = join(dir, `${cur.id as string}.json`);
        try {
          writeFileSync(f, JSON.stringify(cur, null, 2) + '\n');
          const editor = process.env.VISUAL ?? process.env.EDITOR ?? 'vi';
          const r = spawnSync(editor, [f], { stdio: 'inherit' });
          if (r.status !== 0) throw new CrowbarError('bad_request', `${editor} exited with ${r.status}; proposal not changed`);
          doc = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      const r = await apiCall(c, 'PUT', one(), doc);
      out(`saved ${r.id} (revision ${r.revision})${r.pending_changes ? '; commit to apply' : ''}\n`);
      return 0;
    }
    case 'commit': {
      const r = await apiCall(c, 'POST', `${one()}/commit`);
      out(`${bc}-${name}: ${r.status}\n`);
      for (const w of r.waiting_for) out(`  waiting for: ${w}\n`);
      return r.status === 'failed' ? 1 : 0;
    }
    case 'dequeue':
      out(`${(await apiCall(c, 'POST', `${one()}/dequeue`)).id}: dequeued\n`);
      return 0;
    case 'delete':
      out(`deleted ${(await apiCall(c, 'DELETE', one())).deleted}\n`);
      return 0;
    default:
      throw new CrowbarError('bad_request', `unknown proposal command ${JSON.stringify(verb ?? '')} (list, create, show, edit, diff, commit, status, dequeue, delete)`);
  }
}
