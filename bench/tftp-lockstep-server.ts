/**
 * Profiling harness: the TFTP server alone (no appliance around it) on
 * loopback, serving one directory. Used with `perf stat -p`, `node --cpu-prof`
 * or valgrind to study the lock-step per-ACK path. Usage:
 *   node --import tsx bench/tftp-lockstep-server.ts <root> [port=6969] [bind=127.0.0.1] [workers=0] [datagram=auto]
 * workers > 0 runs the transfers on that many worker threads (services.tftp.workers);
 * datagram is services.tftp.datagram (native, dgram, auto); the choice is printed on stderr.
 */
import { nullLogger } from '../src/lib/logger.js';
import { systemClock } from '../src/lib/clock.js';
import { BootFileSource } from '../src/services/boot-files.js';
import { TftpServer } from '../src/protocols/tftp/server.js';
import { TransferPool, spawnTransferWorker } from '../src/protocols/tftp/pool.js';
import { chooseDatagramPath, type DatagramSetting } from '../src/protocols/tftp/datagram.js';
import { loadDatagramAddon } from '../src/protocols/tftp/native-socket.js';

const [root, port = '6969', bind = '127.0.0.1', workers = '0', datagramSetting = 'auto'] = process.argv.slice(2);
if (!root) {
  process.stderr.write('usage: tftp-lockstep-server.ts <root> [port] [bind]\n');
  process.exit(2);
}
const pool = Number(workers) > 0 ? new TransferPool({ size: Number(workers), log: nullLogger, spawn: spawnTransferWorker, now: Date.now }) : null;
const say = { ...nullLogger, info: (msg: string, f?: Record<string, unknown>) => process.stderr.write(`${msg} ${JSON.stringify(f ?? {})}\n`) };
const datagram = chooseDatagramPath(datagramSetting as DatagramSetting, () => loadDatagramAddon(), say);
const server = new TftpServer({ bind, port: Number(port), source: new BootFileSource({ root, now: Date.now }), log: nullLogger, clock: systemClock, pool, datagram });
await server.start();
process.stdout.write(`listening ${bind}:${server.port}\n`);
const stop = (): void => void server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
