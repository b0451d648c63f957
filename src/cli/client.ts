/**
 * The CLI's REST client: where the appliance is (`--url`, CROWBAR_URL, the
 * config's http section, http://127.0.0.1:8080) and which token to send
 * (`--token`, CROWBAR_TOKEN, `<data_dir>/admin.token` with data_dir from
 * `--data-dir`, CROWBAR_DATA_DIR or the config file).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { loadConfigFile } from '../config/load.js';

/** Connection settings for API calls. */
export interface ClientOptions {
  url: string;
  token: string;
}

/** Global options parsed off the front of argv. */
export interface GlobalArgs {
  url?: string;
  token?: string;
  dataDir?: string;
  config?: string;
  rest: string[];
}

/**
 * Split `--url/--token/--token-file/--data-dir/--config` (anywhere) from the
 * other arguments. `--token-file FILE` reads the token from a file, so it
 * never shows in the process list.
 */
export function parseGlobalArgs(argv: readonly string[]): GlobalArgs {
  const out: GlobalArgs = { rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--(url|token|token-file|data-dir|config)(?:=(.*))?$/.exec(a);
    if (!m) {
      out.rest.push(a);
      continue;
    }
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new CrowbarError('bad_request', `${a} needs a value`);
    if (m[1] === 'url') out.url = v;
    else if (m[1] === 'token') out.token = v;
    else if (m[1] === 'token-file') out.token = readTokenFile(v);
    else if (m[1] === 'data-dir') out.dataDir = v;
    else out.config = v;
  }
  return out;
}

function readTokenFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new CrowbarError('bad_request', `--token-file ${path}: ${errorMessage(e)}`);
  }
}

/**
 * The API token: `token` when given, else `<dataDir>/admin.token` (without a
 * data directory: /var/lib/crowbar, then ./var/crowbar); throws `unauthorized`
 * with a hint when there is none.
 */
export function resolveToken(token: string | undefined, dataDir: string | undefined): string {
  if (!token) {
    const dirs = dataDir ? [dataDir] : ['/var/lib/crowbar', './var/crowbar'];
    for (const d of dirs) {
      const f = join(d, 'admin.token');
      if (existsSync(f)) {
        token = readFileSync(f, 'utf8').trim();
        break;
      }
    }
  }
  if (!token) throw new CrowbarError('unauthorized', 'no API token: pass --token, set CROWBAR_TOKEN, or point --data-dir at the appliance data directory (admin.token)');
  return token;
}

/** Resolve URL and token; throws `unauthorized` with a hint when no token is found. */
export function resolveClient(g: GlobalArgs, env: NodeJS.ProcessEnv = process.env): ClientOptions {
  let url = g.url ?? env.CROWBAR_URL;
  let dataDir = g.dataDir ?? env.CROWBAR_DATA_DIR;
  if (g.config) {
    const cfg = loadConfigFile(g.config);
    dataDir ??= cfg.data_dir;
    const h = cfg.services.http;
    url ??= `http://${h.bind === '0.0.0.0' ? '127.0.0.1' : h.bind}:${h.port}`;
  }
  url ??= 'http://127.0.0.1:8080';
  if (!/^https?:\/\/[^\s/]+/.test(url)) throw new CrowbarError('bad_request', `--url: not an http(s) URL: ${url}`);
  const token = resolveToken(g.token ?? env.CROWBAR_TOKEN, dataDir);
  return { url: url.replace(/\/+$/, ''), token };
}

/** A failed API call. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** Builds the error a CLI front end throws for a failed call (status 0: the server was not reached). */
export type ApiFailure = (status: number, message: string, body: unknown) => Error;

/** What came back from one API request: the response, its text, and the JSON body (the text when not JSON, null when empty). */
export interface ApiReply {
  res: Response;
  text: string;
  parsed: unknown;
}

/**
 * Send one request with the bearer token; an unreachable server raises
 * `fail(0, "cannot reach <url>: <cause>")`. The caller judges the status.
 */
export async function sendRequest(c: ClientOptions, method: string, path: string, init: { headers?: Record<string, string>; body?: string | Uint8Array }, fail: ApiFailure): Promise<ApiReply> {
  const headers: Record<string, string> = { authorization: `Bearer ${c.token}`, ...init.headers };
  let res: Response;
  try {
    res = await fetch(`${c.url}${path}`, { method, headers, body: init.body as BodyInit | undefined });
  } catch (e) {
    throw fail(0, `cannot reach ${c.url}: ${errorMessage((e as { cause?: unknown }).cause ?? e)}`, null);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { res, text, parsed };
}

/** Call the API; JSON in and out. Non-2xx raises ApiError with the server's message. */
export async function apiCall(c: ClientOptions, method: string, path: string, body?: unknown, raw?: { data: Buffer; type: string }): Promise<any> {
  const headers: Record<string, string> = {};
  let payload: string | Uint8Array | undefined;
  if (raw) {
    headers['content-type'] = raw.type;
    payload = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length);
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const { res: r, text, parsed } = await sendRequest(c, method, path, { headers, body: payload }, (status, message, b) => new ApiError(status, message, b));
  if (!r.ok) {
    const msg = (parsed as { message?: string } | null)?.message ?? text;
    const errors = (parsed as { details?: { errors?: unknown[] } } | null)?.details?.errors;
    const lines = Array.isArray(errors) ? '\n' + errors.map((e) => `  - ${typeof e === 'string' ? e : `${(e as { path: string }).path || '(root)'}: ${(e as { message: string }).message}`}`).join('\n') : '';
    const head = lines && msg.includes(': ') ? msg.slice(0, msg.indexOf(': ')) + ':' : msg;
    throw new ApiError(r.status, `${r.status} ${head}${lines}`, parsed);
  }
  return parsed;
}
