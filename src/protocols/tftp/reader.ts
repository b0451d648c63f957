/**
 * Sequential block reader over a SourceFile: reads ahead in large chunks
 * (one positional read per chunk, the next chunk prefetched while the current
 * one is sent) so the send path usually copies a block synchronously, and
 * applies the netascii translation (RFC 1350 section 5 / RFC 764: LF -> CR LF,
 * CR -> CR NUL) when asked.
 */
import type { SourceFile } from './source.js';

interface Chunk {
  buf: Buffer;
  len: number;
}

/** Reads a file front to back into caller-provided block buffers. */
export class BlockReader {
  private cur: Chunk = { buf: Buffer.alloc(0), len: 0 };
  private pos = 0;
  private filePos = 0;
  private next: Promise<Chunk> | null = null;
  private failed: Error | null = null;

  constructor(
    private readonly file: SourceFile,
    private readonly chunkSize: number,
    private readonly netascii: boolean,
  ) {
    this.prefetch();
  }

  private prefetch(): void {
    if (this.filePos >= this.file.size) {
      this.next = null;
      return;
    }
    const want = Math.min(this.chunkSize, this.file.size - this.filePos);
    const at = this.filePos;
    this.filePos += want;
    const buf = Buffer.allocUnsafeSlow(want);
    this.next = this.readFully(buf, want, at).then((len) => (this.netascii ? toNetascii(buf.subarray(0, len)) : { buf, len }));
    // Keep a rejection from being unhandled until someone awaits it.
    this.next.catch((e: Error) => {
      this.failed = e;
    });
  }

  private async readFully(buf: Buffer, want: number, at: number): Promise<number> {
    let got = 0;
    while (got < want) {
      const n = await this.file.read(buf, got, want - got, at + got);
      if (n === 0) break; // file shrank: the transfer ends early with a short block
      got += n;
    }
    return got;
  }

  /** True when no more bytes can come. */
  private get exhausted(): boolean {
    return this.pos >= this.cur.len && this.next === null;
  }

  /**
   * Copy up to `len` bytes into `dst[off..]` without waiting. Returns the
   * number of bytes copied, or -1 when a chunk must be awaited first (call `fill`).
   */
  takeSync(dst: Buffer, off: number, len: number): number {
    const avail = this.cur.len - this.pos;
    if (avail >= len || (avail >= 0 && this.next === null)) {
      const n = Math.min(len, avail);
      this.cur.buf.copy(dst, off, this.pos, this.pos + n);
      this.pos += n;
      return n;
    }
    return -1;
  }

  /** Copy up to `len` bytes, waiting for chunks as needed; fewer than `len` only at the end. */
  async take(dst: Buffer, off: number, len: number): Promise<number> {
    let got = 0;
    while (got < len) {
      if (this.failed) throw this.failed;
      const avail = this.cur.len - this.pos;
      if (avail > 0) {
        const n = Math.min(len - got, avail);
        this.cur.buf.copy(dst, off + got, this.pos, this.pos + n);
        this.pos += n;
        got += n;
        continue;
      }
      if (this.exhausted) break;
      this.cur = await this.next!;
      this.pos = 0;
      this.prefetch();
    }
    return got;
  }
}

/** netascii translation of one chunk (stateless per byte, so chunks translate independently). */
export function toNetascii(src: Buffer): Chunk {
  const out = Buffer.allocUnsafe(src.length * 2);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (c === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else out[o++] = c;
  }
  return { buf: out, len: o };
}
