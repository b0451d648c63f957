/**
 * The one place where errors become HTTP responses: CrowbarError codes map to
 * status codes; hapi's own errors (bad JSON, payload too large, 404 routes)
 * keep their status; anything else is a 500 whose detail is logged, not sent.
 */
import type { Request, ResponseToolkit, Lifecycle } from '@hapi/hapi';
import { CrowbarError, type ErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

const STATUS: Record<ErrorCode, number> = {
  'config.invalid': 400,
  'store.corrupt': 500,
  'store.too_new': 500,
  'store.conflict': 409,
  not_found: 404,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  'transition.invalid': 409,
  'pool.exhausted': 503,
  'protocol.malformed': 400,
  'bmc.unreachable': 502,
  'bmc.auth': 502,
  'bmc.protocol': 502,
  'bmc.timeout': 504,
  'driver.unknown': 400,
  'os.none': 409,
  'os.missing': 409,
  'service.failed': 503,
  internal: 500,
};

/** HTTP status for an error code. */
export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

interface BoomLike extends Error {
  isBoom: true;
  output: { statusCode: number; payload: { error?: string; message?: string }; headers: Record<string, string | string[]> };
}

function isBoom(e: unknown): e is BoomLike {
  return typeof e === 'object' && e !== null && (e as { isBoom?: boolean }).isBoom === true;
}

/** onPreResponse extension mapping errors to `{error, message, details}` JSON. */
export function errorMapper(log: Logger): Lifecycle.Method {
  return (request: Request, h: ResponseToolkit) => {
    const res = request.response;
    if (!isBoom(res)) return h.continue;
    if (res instanceof CrowbarError) {
      const r = h.response({ error: res.code, message: res.message, ...(res.details ? { details: res.details } : {}) }).code(statusOf(res.code));
      if (res.code === 'unauthorized') r.header('www-authenticate', 'Bearer');
      if (res.code === 'rate_limited' && typeof res.details?.retry_after === 'number') r.header('retry-after', String(res.details.retry_after));
      return r;
    }
    const status = res.output.statusCode;
    if (status >= 500) {
      log.error('request failed', { method: request.method, path: request.path.replace(/^\/install\/[^/]+/, '/install/<token>'), error: res.message, stack: res.stack });
      return h.response({ error: 'internal', message: 'internal error (see the appliance log)' }).code(500);
    }
    const r = h.response({ error: (res.output.payload.error ?? 'error').toLowerCase().replace(/\s+/g, '_'), message: res.output.payload.message ?? res.message }).code(status);
    for (const [k, v] of Object.entries(res.output.headers)) r.header(k, Array.isArray(v) ? v.join(', ') : v);
    return r;
  };
}
