/**
 * The one error type of the appliance. Every failure that crosses a module
 * boundary is a CrowbarError with a stable code; the HTTP layer maps codes to
 * status codes in one place (src/api/errors.ts), protocol loops log and go on.
 */
export type ErrorCode =
  | 'config.invalid'
  | 'store.corrupt'
  | 'store.too_new'
  | 'store.conflict'
  | 'not_found'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'transition.invalid'
  | 'pool.exhausted'
  | 'protocol.malformed'
  | 'bmc.unreachable'
  | 'bmc.auth'
  | 'bmc.protocol'
  | 'bmc.timeout'
  | 'driver.unknown'
  | 'os.none'
  | 'os.missing'
  | 'service.failed'
  | 'internal';

/** An error with a stable code and optional structured details. */
export class CrowbarError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'CrowbarError';
    this.code = code;
    this.details = details;
  }
}

/** True when `e` is a CrowbarError, optionally with the given code. */
export function isCrowbarError(e: unknown, code?: ErrorCode): e is CrowbarError {
  return e instanceof CrowbarError && (code === undefined || e.code === code);
}

/** The message of any thrown value. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
