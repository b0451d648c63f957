/**
 * A TFTP server with a worker pool in its own process, for the "stop leaves
 * no threads" test: prints `port N` when listening, stops on a `stop` line on
 * stdin, prints `stopped threads=N`, and must then exit by itself (any thread
 * or handle left behind would keep it alive).
 * Usage: node --import tsx test/helpers/tftp-pool-child.ts <root> <workers> [native|dgram]
 */
import { createInterface } from 'node:readline';
import { systemClock } from '../../src/lib/clock.js';
import { nullLogger } from '../../src/lib/logger.js';
import { TransferPool, spawnTransferWorker } from '../../src/protocols/tftp/pool.js';
import { TftpServer } from '../../src/protocols/tftp/server.js';
import { BootFileSource } from '../../src/services/boot-files.js';
import { datagramPath } from './tftp-datagram.js';

const [root, workers = '2', datagram = 'dgram'] = process.argv.slice(2);
const pool = new TransferPool({ size: Number(workers), log: nullLogger, spawn: spawnTransferWorker, now: Date.now });
const server = new TftpServer({ bind: '127.0.0.1', port: 0, source: new BootFileSource({ root, now: Date.now }), log: nullLogger, clock: systemClock, pool, datagram: datagramPath(datagram === 'native' ? 'native' : 'dgram') });
await server.start();
process.stdout.write(`port ${server.port} threads=${pool.threads}\n`);
const rl = createInterface({ input: process.stdin });
rl.on('line', (l) => {
  if (l.trim() !== 'stop') return;
  rl.close();
  void server.stop().then(() => process.stdout.write(`stopped threads=${pool.threads}\n`));
});
