/**
 * The NTP service: the server loop over the local clock's system variables,
 * with per-source rate limiting (KoD RATE). Built by the composition root
 * from the `services.ntp` config section.
 */
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { RateLimiter } from '../lib/rate.js';
import { service, type Service } from '../lib/service.js';
import { NtpServer } from '../protocols/ntp/server.js';
import { LocalClockSource } from './ntp-clock.js';
import { UpstreamFollower } from './ntp-follow.js';
import { parseHostPort } from './hostport.js';

/** The running pieces (exposed for tests). */
export interface NtpService {
  service: Service;
  server: NtpServer;
  /** Present when upstreams are configured. */
  follower: UpstreamFollower | null;
}

/** Build the NTP service from the config. */
export function createNtpService(config: Readonly<Config>, clock: Clock, log: Logger): NtpService {
  const c = config.services.ntp;
  const local = new LocalClockSource(clock, c.local_reference);
  const follower = c.upstreams.length
    ? new UpstreamFollower(c.upstreams.map((u) => parseHostPort(u, 123)), local, clock, log, c.poll_seconds)
    : null;
  const server = new NtpServer({
    bind: c.bind,
    port: c.port,
    source: follower ?? local,
    clock,
    log,
    limiter: c.rate_limit > 0 ? new RateLimiter(c.rate_limit, c.rate_limit * 2, 8192) : null,
    kodLimiter: new RateLimiter(0.5, 1, 8192),
  });
  const svc = service(
    'ntp',
    async () => {
      await server.start();
      follower?.start();
      log.info('ntp listening', { bind: c.bind, port: server.port, local_reference: c.local_reference, upstreams: c.upstreams });
    },
    async () => {
      follower?.stop();
      await server.stop();
    },
  );
  return { service: svc, server, follower };
}
