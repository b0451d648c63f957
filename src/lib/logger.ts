/**
 * Structured logger. One JSON line per record on stderr by default. Secrets
 * must never be passed in fields; `redact` removes well-known secret keys as a
 * second line of defence.
 */

/** Severity of a log record. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every record. */
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEYS = /pass(word)?|secret|token|key$/i;

/** Replace values of secret-looking keys by "[redacted]". */
export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : v;
  return out;
}

/** A JSON-lines logger writing to `write` (stderr by default). */
export function createLogger(
  level: LogLevel = 'info',
  base: Record<string, unknown> = {},
  write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    write(JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...base, ...(fields ? redact(fields) : {}) }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger(level, { ...base, ...f }, write),
  };
}

/** A logger that drops everything (tests). */
export const nullLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => nullLogger,
};

/** A logger that keeps records in memory (tests). */
export function memoryLogger(): Logger & { records: Array<{ level: LogLevel; msg: string; fields?: Record<string, unknown> }> } {
  const records: Array<{ level: LogLevel; msg: string; fields?: Record<string, unknown> }> = [];
  const make = (base: Record<string, unknown>): Logger => ({
    debug: (msg, f) => records.push({ level: 'debug', msg, fields: { ...base, ...f } }),
    info: (msg, f) => records.push({ level: 'info', msg, fields: { ...base, ...f } }),
    warn: (msg, f) => records.push({ level: 'warn', msg, fields: { ...base, ...f } }),
    error: (msg, f) => records.push({ level: 'error', msg, fields: { ...base, ...f } }),
    child: (f) => make({ ...base, ...f }),
  });
  return Object.assign(make({}), { records });
}

/**
 * Rate limiter for log lines keyed by a string: at most `perWindow` records per
 * key and window; returns false when the record should be dropped.
 */
export class LogThrottle {
  private readonly counts = new Map<string, { start: number; n: number }>();
  constructor(
    private readonly perWindow = 10,
    private readonly windowMs = 10_000,
    private readonly maxKeys = 1024,
  ) {}
  allow(key: string, now: number): boolean {
    let c = this.counts.get(key);
    if (!c || now - c.start >= this.windowMs) {
      if (!c && this.counts.size >= this.maxKeys) this.counts.clear();
      c = { start: now, n: 0 };
      this.counts.set(key, c);
    }
    c.n++;
    return c.n <= this.perWindow;
  }
}
