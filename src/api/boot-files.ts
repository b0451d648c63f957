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
 */
import type { ServerResponse } from 'node:http';
import type { Server } from '@hapi/hapi';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { FileSource, SourceFile } from '../services/boot-files.js';
import { parseRange } from './range.js';

/** Chunk size of the streaming loop (two buffers per download). */
export const BOOT_FILE_CHUNK = 512 * 1024;

/** Register the boot file routes on the hapi server. */
export function registerBootFileRoutes(server: Server, source: FileSource, log: Logger): void {
  registerFileRoute(server, '/boot/files/{path*}', source, log);
}

/**
 * Serve `source` unauthenticated at `routePath` (which must end in
 * `{path*}`): GET and HEAD, single ranges, streamed. Used for boot files and
 * for OS media trees (`/os/{path*}`).
 */
export function registerFileRoute(server: Server, routePath: string, source: FileSource, log: Logger): void {
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
      void streamFile(file, res, start, end).catch((e: unknown) => {
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
