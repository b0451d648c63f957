/** The TFTP service: builds the TftpServer from config and wraps it as a Service. */
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { service, type Service } from '../lib/service.js';
import type { FileSource } from '../protocols/tftp/source.js';
import { TftpServer } from '../protocols/tftp/server.js';
import { TransferPool, spawnTransferWorker } from '../protocols/tftp/pool.js';
import type { DatagramPath } from '../protocols/tftp/socket-transfer.js';

/**
 * Build the TFTP server and its Service from the tftp config section.
 * `workers` is the resolved pool size (the composition root turns the
 * config's -1 into the number of usable CPUs); 0 runs transfers in process.
 * `datagram` is the resolved `datagram` setting (protocols/tftp/datagram.ts).
 */
export function createTftpService(cfg: Config['services']['tftp'], workers: number, datagram: DatagramPath, source: FileSource, log: Logger, clock: Clock): { server: TftpServer; pool: TransferPool | null; service: Service } {
  const pool = workers > 0 ? new TransferPool({ size: workers, log, spawn: spawnTransferWorker, now: () => clock.now() }) : null;
  const server = new TftpServer({
    pool,
    datagram,
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
    pool,
    service: service(
      'tftp',
      () => server.start(),
      () => server.stop(),
    ),
  };
}
