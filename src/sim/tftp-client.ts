/**
 * A simulated PXE ROM's TFTP read (RFC 1350 with RFC 2347/2348/2349 options,
 * as PXE ROMs send them: tsize and blksize): RRQ from the machine's address,
 * OACK/DATA/ACK lock-step with retransmission, ERROR ends it. Reads at most
 * `budget` bytes and then ends the transfer with an ERROR (as iPXE does when
 * it aborts), so thousands of machines stay feasible; the server's whole
 * reply path (RRQ, options, first blocks) is still exercised.
 */
import type { Socket } from 'node:dgram';
import { CrowbarError } from '../lib/errors.js';
import { bindUdp } from '../net/bind-udp.js';
import { ERR, OP, decode, encode } from '../protocols/tftp/packet.js';

/** Result of a read. */
export interface TftpRead {
  bytes: number;
  /** File size the server announced (tsize), or null. */
  tsize: number | null;
  /** True when the whole file was read (not cut at the budget). */
  complete: boolean;
}

/** Read settings. */
export interface TftpReadOptions {
  local: string;
  server: string;
  port: number;
  file: string;
  blksize: number;
  /** Stop after this many bytes (0: whole file). */
  budget: number;
  timeoutMs: number;
  attempts: number;
  lose: () => boolean;
}

/** Read `file` from the server. */
export async function tftpRead(udp: () => Socket, o: TftpReadOptions): Promise<TftpRead> {
  const s = udp();
  s.on('error', () => {});
  await bindUdp(s, { address: o.local, port: 0 });
  let peerPort = 0;
  let bytes = 0;
  let tsize: number | null = null;
  let blksize = 512;
  let expect = 1;
  let last: { buf: Buffer; port: number } = { buf: encode({ op: OP.RRQ, filename: o.file, mode: 'octet', options: [['tsize', '0'], ['blksize', String(o.blksize)]] }), port: o.port };
  const send = () => {
    if (!o.lose()) s.send(last.buf, last.port, o.server);
  };
  try {
    return await new Promise<TftpRead>((resolve, reject) => {
      let tries = 0;
      let timer: NodeJS.Timeout;
      // Exponential backoff per retransmission (as PXE ROMs do), capped at 4x the first wait.
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (++tries >= o.attempts) return reject(new CrowbarError('service.failed', `TFTP ${o.file}: no answer after ${o.attempts} tries (block ${expect})`));
          send();
          arm();
        }, o.timeoutMs * Math.min(4, 2 ** tries));
      };
      const finish = (complete: boolean) => {
        clearTimeout(timer);
        resolve({ bytes, tsize, complete });
      };
      s.on('message', (buf, r) => {
        if (r.address !== o.server || (peerPort && r.port !== peerPort)) return;
        const d = decode(buf);
        if (!d.ok) return;
        const p = d.packet;
        if (p.op === OP.ERROR) {
          clearTimeout(timer);
          return reject(new CrowbarError('service.failed', `TFTP ${o.file}: server error ${p.code} ${p.message}`));
        }
        peerPort = r.port;
        tries = 0;
        if (p.op === OP.OACK) {
          for (const [k, v] of p.options) {
            if (k === 'tsize') tsize = Number(v);
            if (k === 'blksize') blksize = Number(v);
          }
          last = { buf: encode({ op: OP.ACK, block: 0 }), port: peerPort };
          send();
          return arm();
        }
        if (p.op !== OP.DATA || p.block !== (expect & 0xffff)) return;
        bytes += p.data.length;
        expect++;
        const done = p.data.length < blksize;
        if (!done && o.budget > 0 && bytes >= o.budget) {
          s.send(encode({ op: OP.ERROR, code: ERR.NOT_DEFINED, message: 'budget reached' }), peerPort, o.server);
          return finish(false);
        }
        last = { buf: encode({ op: OP.ACK, block: p.block }), port: peerPort };
        send();
        if (done) return finish(true);
        arm();
      });
      send();
      arm();
    });
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
  }
}
