/**
 * Profiling harness: bare node:http serving one directory through
 * `streamFile` (the /boot/files streaming loop) with a chosen chunk size, to
 * measure server CPU per byte without hapi. Usage:
 *   node --import tsx bench/http-stream-server.ts <root> <port> <chunkKiB>
 */
import http from 'node:http';
import { streamFile } from '../src/api/boot-files.js';
import { openConfined } from '../src/services/boot-files.js';

const [root, port = '8089', chunkKiB = '1024'] = process.argv.slice(2);
const chunk = Number(chunkKiB) * 1024;
const server = http.createServer((req, res) => {
  const name = decodeURIComponent((req.url ?? '/').slice(1));
  void openConfined(root, [name]).then((file) => {
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(file.size), 'content-type': 'application/octet-stream' });
    return streamFile(file, res, 0, file.size - 1, chunk);
  }).catch(() => res.destroy());
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`listening ${port} chunk ${chunk}\n`));
process.on('SIGTERM', () => process.exit(0));
