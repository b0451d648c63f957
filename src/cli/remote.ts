/**
 * REST access for `crowbar machines`: where the appliance is (`--url`,
 * CROWBAR_URL, default http://127.0.0.1:8080) and which token to send
 * (`--token`, CROWBAR_TOKEN, else `<data_dir>/admin.token` with data_dir from
 * `--data-dir`, CROWBAR_DATA_DIR, /var/lib/crowbar or ./var/crowbar); JSON
 * calls and a Server-Sent Events reader for progress.
 */
import { ApiError, resolveClient, sendRequest, type ClientOptions } from './client.js';

/** Where and how to call the API (the same settings as the other CLI verbs). */
export type Remote = ClientOptions;

/** Options taken off the command line before the verb's own. */
export interface RemoteArgs {
  url?: string;
  token?: string;
  dataDir?: string;
}

/** Resolve URL and token from arguments, environment and the data directory. */
export function resolveRemote(a: RemoteArgs, env: NodeJS.ProcessEnv = process.env): Remote {
  return resolveClient({ ...a, rest: [] }, env);
}

/** A failed API call with the server's message (the CLI's one error type for API failures). */
export { ApiError as RemoteError } from './client.js';

/** Call the API with JSON in and out; non-2xx raises RemoteError. */
export async function call(r: Remote, method: string, path: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const { res, text, parsed } = await sendRequest(r, method, path, { headers, body: body === undefined ? undefined : JSON.stringify(body) }, (status, message, b) => new ApiError(status, message, b));
  if (!res.ok) throw new ApiError(res.status, `${res.status}: ${(parsed as { message?: string } | null)?.message ?? text}`, parsed);
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
  if (!res.ok || !res.body) throw new ApiError(res.status, `event stream: HTTP ${res.status}`, null);
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
