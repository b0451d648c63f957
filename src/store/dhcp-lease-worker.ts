/**
 * Worker-thread entry for lease commits (see dhcp-lease-committer.ts): its
 * own SQLite connection (WAL, synchronous=FULL) applies each batch in one
 * transaction, so the fsync never blocks the event loop that serves DHCP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { errorMessage } from '../lib/errors.js';
import { DhcpLeaseRepo, type LeaseOp } from './dhcp-leases.js';

const port = parentPort!;
const db = new Database((workerData as { path: string }).path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const repo = new DhcpLeaseRepo(db);
port.on('message', (m: { id: number; ops: string } | { close: true }) => {
  if ('close' in m) {
    db.close();
    port.close();
    return;
  }
  try {
    const t0 = performance.now();
    const results = repo.applyBatch(JSON.parse(m.ops) as LeaseOp[]);
    port.postMessage({ id: m.id, ms: performance.now() - t0, results: results.map((e) => (e ? e.message : null)) });
  } catch (e) {
    port.postMessage({ id: m.id, error: errorMessage(e) });
  }
});
port.postMessage({ ready: true });
