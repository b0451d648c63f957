/**
 * Profiling harness: bare node:http serving one directory through
 * `streamFile` (the /boot/files streaming loop) with a chosen chunk size, or
 * through sendfile(2) (src/http/sendfile.ts), to measure server CPU per byte
 * without hapi. Usage:
 *   node --import tsx bench/http-stream-server.ts <root> <port> <chunkKiB|sendfile>
 */
import http from 'node:http';
import { streamFile } from '../src/api/boot-files.js';
import { loadSendfileAddon, sendfileBody } from '../src/http/sendfile.js';
import { openConfined } from '../src/services/boot-files.js';

const [root, port = '8089', mode = '1024'] = process.argv.slice(2);
const loaded = mode === 'sendfile' ? loadSendfileAddon() : null;
if (loaded && 'error' in loaded) throw new Error(`sendfile addon: ${loaded.error} (npm run build:native)`);
const addon = loaded && 'addon' in loaded ? loaded.addon : null;
const chunk = addon ? 0 : Number(mode) * 1024;
const server = http.createServer((req, res) => {
  const name = decodeURIComponent((req.url ?? '/').slice(1));
  void openConfined(root, [name]).then(async (file) => {
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(file.size), 'content-type': 'application/octet-stream' });
    if (!addon || file.fd === undefined) return streamFile(file, res, 0, file.size - 1, chunk || undefined);
    try {
      await sendfileBody(addon, res, file.fd, 0, file.size);
    } finally {
      await file.close();
    }
  }).catch(() => res.destroy());
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`listening ${port} ${addon ? 'sendfile' : `chunk ${chunk}`}\n`));
process.on('SIGTERM', () => process.exit(0));
