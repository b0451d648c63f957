/**
 * REST access for `crowbar machines`: where the appliance is (`--url`,
 * CROWBAR_URL, default http://127.0.0.1:8080) and which token to send
 * (`--token`, CROWBAR_TOKEN, else `<data_dir>/admin.token` with data_dir from
 * `--data-dir`, CROWBAR_DATA_DIR, /var/lib/crowbar or ./var/crowbar); JSON
 * calls and a Server-Sent Events reader for progress.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CrowbarError, errorMessage } from '../lib/errors.js';

/** Where and how to call the API. */
export interface Remote {
  url: string;
  token: string;
}

/** Options taken off the command line before the verb's own. */
export interface RemoteArgs {
  url?: string;
  token?: string;
  dataDir?: string;
}

/** Resolve URL and token from arguments, environment and the data directory. */
export function resolveRemote(a: RemoteArgs, env: NodeJS.ProcessEnv = process.env): Remote {
  const url = (a.url ?? env.CROWBAR_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(url)) throw new CrowbarError('bad_request', `--url: not an http(s) URL: ${url}`);
  let token = a.token ?? env.CROWBAR_TOKEN;
  if (!token) {
    const dd = a.dataDir ?? env.CROWBAR_DATA_DIR;
    for (const d of dd ? [dd] : ['/var/lib/crowbar', './var/crowbar']) {
      const f = join(d, 'admin.token');
      if (existsSync(f)) {
        token = readFileSync(f, 'utf8').trim();
        break;
      }
    }
  }
  if (!token) throw new CrowbarError('unauthorized', 'no API token: pass --token, set CROWBAR_TOKEN, or point --data-dir at the appliance data directory (admin.token)');
  return { url, token };
}

/** A failed API call with the server's message. */
export class RemoteError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** Call the API with JSON in and out; non-2xx raises RemoteError. */
export async function call(r: Remote, method: string, path: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { authorization: `Bearer ${r.token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${r.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new RemoteError(0, `cannot reach ${r.url}: ${errorMessage((e as { cause?: unknown }).cause ?? e)}`, null);
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!res.ok) throw new RemoteError(res.status, `${res.status}: ${(parsed as { message?: string } | null)?.message ?? text}`, parsed);
  return parsed;
}

/** One event from the stream. */
export interface RemoteEvent {
  type: string;
  id: number | null;
  at: number;
  data: Record<string, any>;
}

/**
 * Open the event stream; resolves once the server has subscribed (its first
 * bytes arrived). `onEvent` gets every event until `signal` aborts.
 */
export async function openStream(r: Remote, signal: AbortSignal, onEvent: (e: RemoteEvent) => void, types = 'node.*'): Promise<{ done: Promise<void> }> {
  const res = await fetch(`${r.url}/api/v1/events/stream?types=${encodeURIComponent(types)}`, { headers: { authorization: `Bearer ${r.token}` }, signal });
  if (!res.ok || !res.body) throw new RemoteError(res.status, `event stream: HTTP ${res.status}`, null);
  const reader = res.body.getReader();
  const first = await reader.read();
  let buf = first.value ? Buffer.from(first.value).toString('utf8') : '';
  const drain = () => {
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (!data) continue;
      try {
        onEvent(JSON.parse(data) as RemoteEvent);
      } catch {
        /* not JSON: ignore */
      }
    }
  };
  drain();
  const done = (async () => {
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) return;
        buf += Buffer.from(value).toString('utf8');
        drain();
      }
    } catch {
      /* aborted */
    }
  })();
  return { done };
}
