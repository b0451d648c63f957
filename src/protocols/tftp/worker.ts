/**
 * Transfer worker thread (see pool.ts). It receives fully resolved transfers
 * from the main thread (an open descriptor or the bytes of a generated file,
 * the negotiated options, the client's address), binds each transfer's own
 * socket and runs the read transfer state machine on it. It decides no policy:
 * paths, confinement, rate limits and refusals stay on the main thread.
 *
 * This file is the worker's own composition root: the only clock it can use
 * is the thread's (Date.now), and its transfer sockets come from the datagram
 * path the main thread chose (node:dgram, or the native addon, which this
 * thread loads itself: the addon is context-aware).
 */
import { read } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { failedResult, type Transfer } from './transfer.js';
import type { SourceFile } from './source.js';
import { bufferFile } from './source.js';
import { dgramPath, nativePath, type DatagramPath, type TransferSocket } from './socket-transfer.js';
import { loadDatagramAddon } from './native-socket.js';
import type { FromWorker, ToWorker, WorkerJob } from './pool.js';

const port = parentPort!;
const running = new Map<number, Transfer>();
/** Transfers whose socket is being opened (null) or open. */
const sockets = new Map<number, TransferSocket | null>();
const paths = new Map<string, DatagramPath>();
let stopping = false;

const post = (m: FromWorker): void => {
  port.postMessage(m);
  // Once stopping, the thread ends when its last transfer has reported.
  if (stopping && m.type === 'end' && sockets.size === 0) port.close();
};

/** Positional reads on a descriptor the main thread owns (and closes after the transfer). */
function fdFile(fd: number, size: number): SourceFile {
  return {
    size,
    mtimeMs: 0,
    read: (buf, offset, length, position) =>
      new Promise<number>((resolve, reject) => {
        if (position >= size) return resolve(0);
        read(fd, buf, offset, Math.min(length, size - position), position, (e, n) => (e ? reject(e) : resolve(n)));
      }),
    close: async () => {},
  };
}

/** The datagram path of a job, loaded once per thread. Throws when the native addon does not load here. */
function pathFor(job: WorkerJob): DatagramPath {
  const key = job.datagram === 'native' ? `native:${job.addonPath ?? ''}` : 'dgram';
  let p = paths.get(key);
  if (!p) {
    if (job.datagram === 'native') {
      const r = loadDatagramAddon(job.addonPath);
      if ('error' in r) throw new Error(`native addon: ${r.error}`);
      p = nativePath(r.addon);
    } else {
      p = dgramPath();
    }
    paths.set(key, p);
  }
  return p;
}

async function run(job: WorkerJob): Promise<void> {
  const file = job.data ? bufferFile(Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength), 0) : fdFile(job.fd!, job.size);
  sockets.set(job.id, null);
  let sock: TransferSocket;
  try {
    sock = await pathFor(job).open(job.bind, job.address, job.port);
  } catch (e) {
    sockets.delete(job.id);
    post({ type: 'end', id: job.id, started: false, result: failedResult(`socket: ${(e as Error).message}`) });
    return;
  }
  if (stopping || !sockets.has(job.id)) {
    // Aborted while the socket was being bound.
    sockets.delete(job.id);
    sock.close();
    post({ type: 'end', id: job.id, started: true, result: failedResult('aborted: server shutting down') });
    return;
  }
  sockets.set(job.id, sock);
  // The port lets the main thread tell the client if this thread dies mid-transfer.
  post({ type: 'started', id: job.id, tid: sock.localPort });
  const transfer = sock.run({
    file,
    netascii: job.netascii,
    negotiated: job.negotiated,
    retry: job.retry,
    now: Date.now,
    onEnd: (result) => {
      running.delete(job.id);
      sockets.delete(job.id);
      post({ type: 'end', id: job.id, started: true, result });
    },
  });
  if (transfer.active) running.set(job.id, transfer);
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'run':
      if (stopping) return;
      void run(m.job).catch((e: unknown) => {
        sockets.delete(m.job.id);
        post({ type: 'end', id: m.job.id, started: false, result: failedResult(`worker: ${(e as Error).message}`) });
      });
      return;
    case 'abort':
      running.get(m.id)?.abort(m.reason, m.notifyClient);
      return;
    case 'stop':
      stopping = true;
      for (const t of [...running.values()]) t.abort('server shutting down', true);
      // Sockets still binding: their run() sees `stopping` and ends them.
      if (sockets.size === 0) port.close();
      return;
    case 'crash':
      // Fault injection (tests): an uncaught exception, as a bug would throw.
      setImmediate(() => {
        throw new Error('injected worker crash');
      });
      return;
  }
});
post({ type: 'ready' });
