/** The TFTP service: builds the TftpServer from config and wraps it as a Service. */
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { service, type Service } from '../lib/service.js';
import type { FileSource } from '../protocols/tftp/source.js';
import { TftpServer } from '../protocols/tftp/server.js';

/** Build the TFTP server and its Service from the tftp config section. */
export function createTftpService(cfg: Config['services']['tftp'], source: FileSource, log: Logger, clock: Clock): { server: TftpServer; service: Service } {
  const server = new TftpServer({
    bind: cfg.bind,
    port: cfg.port,
    source,
    log,
    clock,
    limits: {
      maxBlksize: cfg.max_blksize,
      maxWindowsize: cfg.max_windowsize,
      timeoutMs: cfg.timeout_ms,
      maxTimeoutMs: Math.max(cfg.timeout_ms, cfg.max_timeout_ms),
      retries: cfg.retries,
      maxTransfers: cfg.max_transfers,
      requestsPerSecond: cfg.requests_per_second,
      requestBurst: cfg.requests_per_second * 2,
    },
  });
  return {
    server,
    service: service(
      'tftp',
      () => server.start(),
      () => server.stop(),
    ),
  };
}
