/**
 * Profiling harness: the TFTP server alone (no appliance around it) on
 * loopback, serving one directory. Used with `perf stat -p`, `node --cpu-prof`
 * or valgrind to study the lock-step per-ACK path. Usage:
 *   node --import tsx bench/tftp-lockstep-server.ts <root> [port=6969] [bind=127.0.0.1] [workers=0]
 * workers > 0 runs the transfers on that many worker threads (services.tftp.workers).
 */
import { nullLogger } from '../src/lib/logger.js';
import { systemClock } from '../src/lib/clock.js';
import { BootFileSource } from '../src/services/boot-files.js';
import { TftpServer } from '../src/protocols/tftp/server.js';
import { TransferPool, spawnTransferWorker } from '../src/protocols/tftp/pool.js';

const [root, port = '6969', bind = '127.0.0.1', workers = '0'] = process.argv.slice(2);
if (!root) {
  process.stderr.write('usage: tftp-lockstep-server.ts <root> [port] [bind]\n');
  process.exit(2);
}
const pool = Number(workers) > 0 ? new TransferPool({ size: Number(workers), log: nullLogger, spawn: spawnTransferWorker, now: Date.now }) : null;
const server = new TftpServer({ bind, port: Number(port), source: new BootFileSource({ root, now: Date.now }), log: nullLogger, clock: systemClock, pool });
await server.start();
process.stdout.write(`listening ${bind}:${server.port}\n`);
const stop = (): void => void server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
