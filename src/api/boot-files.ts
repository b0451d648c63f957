/**
 * `GET|HEAD /boot/files/{path*}`: boot files (loaders, kernels, initrds,
 * images) for iPXE and UEFI HTTP boot, from the same FileSource and
 * confinement as TFTP. No authentication (firmware cannot authenticate; the
 * source serves no secrets). Single byte ranges (206/416), correct
 * Content-Length, HEAD.
 *
 * Speed: hapi's per-byte response pipeline (inert) runs at ~0.3x nginx here,
 * so after hapi has routed the request and the file is open, the handler
 * takes over the raw Node response (`h.abandon`) and streams with positional
 * reads into two reused 512 KiB buffers (read the next chunk while the previous
 * is written; no per-chunk allocation, so no page faults on fresh memory).
 * Most server CPU is the page cache -> buffer copy of the read; 512 KiB used
 * less CPU per byte than 1 MiB, 256 KiB or 128 KiB (bench/http-stream-server.ts).
 * Errors before streaming still go through the normal error mapper.
 *
 * Zero copy: with the sendfile addon (src/http/sendfile.ts,
 * `services.http.sendfile: auto`), bodies of on-disk files of at least
 * SENDFILE_MIN_BYTES on plain TCP go out with sendfile(2) instead (FileBodies).
 * TLS, HEAD, small and generated files keep the streaming loop.
 */
import type { ServerResponse } from 'node:http';
import type { Server } from '@hapi/hapi';
import { SendfileError, SendfileUnavailable, plainSocketFd, sendfileBody, type SendfileAddon } from '../http/sendfile.js';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { FileSource, SourceFile } from '../services/boot-files.js';
import { parseRange } from './range.js';

/** Chunk size of the streaming loop (two buffers per download). */
export const BOOT_FILE_CHUNK = 512 * 1024;

/** Bodies smaller than this are streamed even with sendfile available (a dup + poll round costs more than one copy). */
export const SENDFILE_MIN_BYTES = 64 * 1024;

/** Counters of the file bodies sent (health: `http_files`). */
export interface FileBodyStats {
  /** on: the addon is loaded; off: services.http.sendfile is off; unavailable: the addon did not load. */
  sendfile: 'on' | 'off' | 'unavailable';
  /** Bodies being sent with sendfile now. */
  sendfile_active: number;
  /** Completed sendfile bodies. */
  sendfile_transfers: number;
  /** Bytes sent by sendfile(2), including those of aborted transfers. */
  sendfile_bytes: number;
  /** Transfers that could not start sendfile (dup/uv_poll_init failed) and were streamed. */
  sendfile_fallbacks: number;
  streamed_transfers: number;
  /** Bytes of completed streamed bodies. */
  streamed_bytes: number;
  /** Bodies cut short (client gone, socket error, server stopping). */
  aborted: number;
}

/**
 * How file bodies are sent, shared by every file route (/boot/files, /os):
 * sendfile(2) when the addon is loaded and the body qualifies, else the
 * streaming loop (streamFile).
 */
export class FileBodies {
  readonly stats: FileBodyStats;

  constructor(
    private readonly addon: SendfileAddon | null = null,
    state: FileBodyStats['sendfile'] = addon ? 'on' : 'off',
  ) {
    this.stats = { sendfile: state, sendfile_active: 0, sendfile_transfers: 0, sendfile_bytes: 0, sendfile_fallbacks: 0, streamed_transfers: 0, streamed_bytes: 0, aborted: 0 };
  }

  /**
   * Send bytes [start, end] of `file` as the body of `res` (writeHead done,
   * body not started) and end it; closes the file. Rejects when the body was
   * cut short; the connection is destroyed then.
   */
  async send(file: SourceFile, res: ServerResponse, start: number, end: number): Promise<void> {
    const length = end - start + 1;
    // (A pipelined request's response has no socket yet: sendfileBody waits for it.)
    if (this.addon && file.fd !== undefined && file.data === undefined && length >= SENDFILE_MIN_BYTES && (!res.socket || plainSocketFd(res.socket) !== null)) {
      this.stats.sendfile_active++;
      try {
        const sent = await sendfileBody(this.addon, res, file.fd, start, length);
        this.stats.sendfile_transfers++;
        this.stats.sendfile_bytes += sent;
        await file.close();
        return;
      } catch (e) {
        if (!(e instanceof SendfileUnavailable)) {
          this.stats.aborted++;
          if (e instanceof SendfileError) this.stats.sendfile_bytes += e.sent;
          res.destroy();
          await file.close();
          throw e;
        }
        this.stats.sendfile_fallbacks++; // headers are out, no body byte: stream it
      } finally {
        this.stats.sendfile_active--;
      }
    }
    try {
      await streamFile(file, res, start, end);
    } catch (e) {
      this.stats.aborted++;
      throw e;
    }
    this.stats.streamed_transfers++;
    this.stats.streamed_bytes += length;
  }
}

/**
 * Resolve `services.http.sendfile` and log (info) how file bodies are sent:
 * `auto` = sendfile when the addon loads, else streamed; `off` = streamed.
 */
export function chooseFileBodies(setting: 'auto' | 'off', load: () => { addon: SendfileAddon } | { error: string }, log: Logger): FileBodies {
  if (setting === 'off') {
    log.info('http: file bodies are streamed (services.http.sendfile: off)');
    return new FileBodies(null, 'off');
  }
  const r = load();
  if ('addon' in r) {
    log.info('http: file bodies use sendfile', { addon: r.addon.path });
    return new FileBodies(r.addon, 'on');
  }
  log.info('http: file bodies are streamed (sendfile addon not available; npm run build:native)', { reason: r.error });
  return new FileBodies(null, 'unavailable');
}

/** Register the boot file routes on the hapi server. */
export function registerBootFileRoutes(server: Server, source: FileSource, log: Logger, bodies: FileBodies = new FileBodies()): void {
  registerFileRoute(server, '/boot/files/{path*}', source, log, bodies);
}

/**
 * Serve `source` unauthenticated at `routePath` (which must end in
 * `{path*}`): GET and HEAD, single ranges, streamed. Used for boot files and
 * for OS media trees (`/os/{path*}`).
 */
export function registerFileRoute(server: Server, routePath: string, source: FileSource, log: Logger, bodies: FileBodies = new FileBodies()): void {
  server.route({
    method: 'GET',
    path: routePath,
    options: { auth: false },
    handler: async (request, h) => {
      const path = String(request.params.path ?? '');
      const file = await source.open({ path, remoteAddress: request.info.remoteAddress, protocol: 'http' });
      if (!file) throw new CrowbarError('not_found', `no such file: ${path.slice(0, 200)}`);
      const size = file.size;
      const etag = `"${size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}"`;
      const lastModified = new Date(file.mtimeMs).toUTCString();
      let rangeHeader = request.headers.range as string | undefined;
      const ifRange = request.headers['if-range'] as string | undefined;
      // RFC 9110 section 13.1.5: a Range is honoured only if If-Range still matches.
      if (ifRange !== undefined && ifRange !== etag && ifRange !== lastModified) rangeHeader = undefined;
      const range = parseRange(rangeHeader, size);
      if (range.kind === 'unsatisfiable') {
        await file.close();
        return h.response().code(416).header('content-range', `bytes */${size}`).header('accept-ranges', 'bytes');
      }
      const [status, start, end] = range.kind === 'partial' ? [206, range.start, range.end] : [200, 0, size - 1];
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start + 1),
        'accept-ranges': 'bytes',
        'last-modified': lastModified,
        etag,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      };
      if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
      const res = request.raw.res;
      res.writeHead(status, headers);
      if (request.raw.req.method === 'HEAD' || end < start) {
        res.end();
        await file.close();
        return h.abandon;
      }
      void bodies.send(file, res, start, end).catch((e: unknown) => {
        log.info('boot file download aborted', { path: path.slice(0, 200), client: request.info.remoteAddress, error: errorMessage(e) });
      });
      return h.abandon;
    },
  });
}

/** Stream bytes [start, end] of `file` to `res` with two reused `chunkSize` buffers; closes the file. */
export async function streamFile(file: SourceFile, res: ServerResponse, start: number, end: number, chunkSize = BOOT_FILE_CHUNK): Promise<void> {
  let closed = false;
  let onClose: (() => void) | null = null;
  res.once('close', () => {
    closed = true;
    onClose?.();
  });
  const write = (b: Buffer): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (closed) return reject(new Error('client closed the connection'));
      onClose = () => reject(new Error('client closed the connection'));
      res.write(b, (err) => {
        onClose = null;
        if (err) reject(err);
        else resolve();
      });
    });
  const chunk = Math.min(chunkSize, end - start + 1);
  const bufs = [Buffer.allocUnsafeSlow(chunk), Buffer.allocUnsafeSlow(chunk)];
  let pos = start;
  let i = 0;
  let pending: Promise<void> | null = null;
  try {
    while (pos <= end) {
      if (closed) throw new Error('client closed the connection');
      const buf = bufs[i];
      i ^= 1;
      const n = await file.read(buf, 0, Math.min(chunk, end - pos + 1), pos);
      if (n === 0) throw new Error('file shrank while being served');
      pos += n;
      if (pending) await pending;
      pending = write(n === buf.length ? buf : buf.subarray(0, n));
      // A client reset rejects the write while the next read is in flight; mark it handled now
      // (it is still awaited below) or the unhandled rejection ends the appliance process.
      pending.catch(() => {});
    }
    if (pending) await pending;
    res.end();
  } catch (e) {
    // The status line and Content-Length are already sent: cut the connection so the client sees a short body.
    res.destroy();
    throw e;
  } finally {
    await file.close();
  }
}
