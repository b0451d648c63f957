/**
 * The policy interface the TFTP server consults for file contents (like
 * pixiecore's Booter). The server never decides which paths exist or are
 * allowed: it asks the source and maps the answer to a TFTP reply.
 */

/** Who is asking for a file (for per-node generated content and logs). */
export interface FileRequest {
  /** The path exactly as requested (TFTP filename, or the HTTP path below /boot/files/). */
  path: string;
  /** Client IP address. */
  remoteAddress: string;
  /** Which protocol asks. */
  protocol: 'tftp' | 'http';
}

/** An open file: a known size and positional reads (no whole-file buffering). */
export interface SourceFile {
  /** Size in bytes, fixed at open time. */
  readonly size: number;
  /** Modification time in ms since the epoch (HTTP Last-Modified / ETag). */
  readonly mtimeMs: number;
  /**
   * Read up to `length` bytes at `position` into `buf[offset..]`; resolves
   * with the number of bytes read (0 at the end of the file).
   */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Release the file (idempotent). */
  close(): Promise<void>;
  /**
   * The open file descriptor behind `read`, when there is one. A transfer
   * worker thread reads it directly (descriptors are per process); the owner
   * keeps it open until `close`.
   */
  readonly fd?: number;
  /** The whole contents, for in-memory (generated) files. */
  readonly data?: Buffer;
}

/**
 * Resolves request paths to files. Returns null when the file does not exist
 * (TFTP ERROR 1); throws CrowbarError('forbidden') when the path is refused
 * (TFTP ERROR 2). Any other throw is an internal error (TFTP ERROR 0).
 */
export interface FileSource {
  open(req: FileRequest): Promise<SourceFile | null>;
}

/** A SourceFile over an in-memory buffer (generated files). */
export function bufferFile(data: Buffer, mtimeMs: number): SourceFile {
  return {
    size: data.length,
    mtimeMs,
    data,
    async read(buf, offset, length, position) {
      if (position >= data.length) return 0;
      return data.copy(buf, offset, position, Math.min(data.length, position + length));
    },
    async close() {},
  };
}
