/**
 * Runs a set of services together: starts them in order (stopping those
 * already started if one fails), stops them all in reverse order on abort
 * with a deadline, and turns a fatal error in any of them into a shutdown of
 * all with that error.
 */
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Service } from '../lib/service.js';

/** Handle on running services. */
export interface RunningServices {
  /** Resolves when all services have stopped; rejects with the fatal error if one failed. */
  done: Promise<void>;
  /** Stop everything (idempotent). */
  stop(): Promise<void>;
}

/** Start `services` under `signal`. */
export async function startServices(services: readonly Service[], signal: AbortSignal, log: Logger, stopDeadlineMs = 5000): Promise<RunningServices> {
  const started: Service[] = [];
  let fatalError: Error | null = null;
  let stopping: Promise<void> | null = null;
  let resolveDone!: () => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => {});

  const stopAll = (): Promise<void> => {
    if (stopping) return stopping;
    stopping = (async () => {
      const all = Promise.allSettled([...started].reverse().map(async (s) => {
        try {
          await s.stop();
        } catch (e) {
          log.warn('service stop failed', { service: s.name, error: errorMessage(e) });
        }
      }));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((res) => {
        timer = setTimeout(() => {
          log.error('services did not stop in time', { deadline_ms: stopDeadlineMs });
          res();
        }, stopDeadlineMs);
      });
      await Promise.race([all, deadline]);
      clearTimeout(timer);
      if (fatalError) rejectDone(fatalError);
      else resolveDone();
    })();
    return stopping;
  };

  const fatal = (name: string) => (e: Error) => {
    if (fatalError || stopping) return;
    fatalError = new CrowbarError('service.failed', `${name}: ${errorMessage(e)}`);
    log.error('service failed; stopping all services', { service: name, error: errorMessage(e) });
    void stopAll();
  };

  signal.addEventListener('abort', () => void stopAll(), { once: true });
  for (const s of services) {
    try {
      await s.start(signal, fatal(s.name));
      started.push(s);
      log.info('service started', { service: s.name });
    } catch (e) {
      fatalError = new CrowbarError('service.failed', `${s.name} failed to start: ${errorMessage(e)}`);
      log.error('service failed to start', { service: s.name, error: errorMessage(e) });
      await stopAll();
      throw fatalError;
    }
  }
  return { done, stop: stopAll };
}
