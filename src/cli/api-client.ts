/**
 * A small REST client for CLI verbs: base URL from --url or $CROWBAR_URL
 * (default http://127.0.0.1:8080), API token from $CROWBAR_TOKEN or
 * --token-file. Errors come back as the API's `{error, message}`.
 */
import { readFileSync } from 'node:fs';
import { CrowbarError } from '../lib/errors.js';

/** Connection settings of the CLI. */
export interface ApiTarget {
  url: string;
  token: string;
}

/** Pull --url / --token-file out of `args`; returns the rest. */
export function apiTargetFrom(args: string[], env: NodeJS.ProcessEnv): { target: ApiTarget; rest: string[] } {
  let url = env.CROWBAR_URL ?? 'http://127.0.0.1:8080';
  let token = env.CROWBAR_TOKEN ?? '';
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--url') url = args[++i] ?? '';
    else if (args[i] === '--token-file') token = readFileSync(args[++i] ?? '', 'utf8').trim();
    else rest.push(args[i]);
  }
  if (!token) throw new CrowbarError('unauthorized', 'no API token: set CROWBAR_TOKEN or pass --token-file FILE');
  return { target: { url: url.replace(/\/+$/, ''), token }, rest };
}

/** Call the API; resolves with the JSON body, throws CrowbarError-like errors on 4xx/5xx. */
export async function apiCall(t: ApiTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  let r: Response;
  try {
    r = await fetch(t.url + path, {
      method,
      headers: { authorization: `Bearer ${t.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new CrowbarError('service.failed', `cannot reach ${t.url}: ${(e as Error).message}`);
  }
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  if (!r.ok) {
    const p = parsed as { error?: string; message?: string };
    throw new Error(`${r.status} ${p?.error ?? ''}: ${p?.message ?? text}`.trim());
  }
  return parsed;
}
