/**
 * TFTP wire format: pure `decode(Buffer) -> TftpPacket` and
 * `encode(TftpPacket) -> Buffer` (RFC 1350 section 5, options RFC 2347
 * section 2, OACK RFC 2347 section 3). Decoding never throws: malformed
 * input yields `{ ok: false, reason }` so socket handlers can log and drop.
 */

/** Opcodes (RFC 1350 section 5; OACK = 6 from RFC 2347). */
export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** ERROR codes (RFC 1350 appendix; 8 from RFC 2347 section 2). */
export const ERR = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/** RRQ or WRQ (RFC 1350 section 5, figure 5-1; options RFC 2347 section 2). */
export interface RequestPacket {
  op: typeof OP.RRQ | typeof OP.WRQ;
  filename: string;
  /** Mode as sent, lower-cased ("octet", "netascii", "mail", ...). */
  mode: string;
  /** Options in request order; names lower-cased (RFC 2347: case-insensitive), values as sent. */
  options: Array<[string, string]>;
}

/** DATA (RFC 1350 figure 5-2): 16-bit block number and 0..blksize bytes. */
export interface DataPacket {
  op: typeof OP.DATA;
  block: number;
  data: Buffer;
}

/** ACK (RFC 1350 figure 5-3). */
export interface AckPacket {
  op: typeof OP.ACK;
  block: number;
}

/** ERROR (RFC 1350 figure 5-4). */
export interface ErrorPacket {
  op: typeof OP.ERROR;
  code: number;
  message: string;
}

/** OACK (RFC 2347 section 3): the options the server accepts, with values. */
export interface OackPacket {
  op: typeof OP.OACK;
  options: Array<[string, string]>;
}

/** Any TFTP packet. */
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** Result of decoding a datagram. */
export type DecodeResult =
  | { ok: true; packet: TftpPacket }
  | {
      ok: false;
      reason: string;
      /** Opcode when at least two bytes were present. */
      op?: number;
      /** The ERROR code a server should answer a malformed request with. */
      code?: number;
    };

/** Split `buf[start..]` into NUL-terminated strings; null if the last one is not terminated. */
function cstrings(buf: Buffer, start: number): string[] | null {
  const out: string[] = [];
  let i = start;
  while (i < buf.length) {
    const z = buf.indexOf(0, i);
    if (z < 0) return null;
    // RFC 1350 section 5: strings are netascii; we decode as latin1 so every
    // byte maps to one character and nothing is silently replaced.
    out.push(buf.toString('latin1', i, z));
    i = z + 1;
  }
  return out;
}

/** Decode one datagram. */
export function decode(buf: Buffer): DecodeResult {
  if (buf.length < 2) return { ok: false, reason: `datagram too short (${buf.length} bytes)` };
  const op = buf.readUInt16BE(0);
  switch (op) {
    case OP.RRQ:
    case OP.WRQ: {
      const parts = cstrings(buf, 2);
      if (!parts) return { ok: false, op, code: ERR.ILLEGAL_OPERATION, reason: 'request strings are not NUL-terminated' };
      if (parts.length < 2) return { ok: false, op, code: ERR.ILLEGAL_OPERATION, reason: 'request lacks filename or mode' };
      const [filename, mode, ...rest] = parts;
      // Some PXE ROMs pad the request with an extra NUL: drop one empty trailing string.
      if (rest.length % 2 !== 0 && rest[rest.length - 1] === '') rest.pop();
      if (filename.length === 0) return { ok: false, op, code: ERR.ILLEGAL_OPERATION, reason: 'empty filename' };
      // RFC 2347 section 2: options come as name/value pairs after the mode.
      if (rest.length % 2 !== 0) return { ok: false, op, code: ERR.OPTION_REFUSED, reason: 'option without a value' };
      const options: Array<[string, string]> = [];
      for (let i = 0; i < rest.length; i += 2) options.push([rest[i].toLowerCase(), rest[i + 1]]);
      return { ok: true, packet: { op, filename, mode: mode.toLowerCase(), options } };
    }
    case OP.DATA:
      if (buf.length < 4) return { ok: false, op, reason: 'DATA shorter than 4 bytes' };
      return { ok: true, packet: { op, block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case OP.ACK:
      // RFC 1350 figure 5-3: exactly opcode + block; tolerate trailing bytes (some stacks pad).
      if (buf.length < 4) return { ok: false, op, reason: 'ACK shorter than 4 bytes' };
      return { ok: true, packet: { op, block: buf.readUInt16BE(2) } };
    case OP.ERROR: {
      if (buf.length < 4) return { ok: false, op, reason: 'ERROR shorter than 4 bytes' };
      const z = buf.indexOf(0, 4);
      // Be lenient with a missing terminator: the message is informational only.
      const message = buf.toString('latin1', 4, z < 0 ? buf.length : z);
      return { ok: true, packet: { op, code: buf.readUInt16BE(2), message } };
    }
    case OP.OACK: {
      const parts = cstrings(buf, 2);
      if (!parts || parts.length % 2 !== 0) return { ok: false, op, reason: 'malformed OACK' };
      const options: Array<[string, string]> = [];
      for (let i = 0; i < parts.length; i += 2) options.push([parts[i].toLowerCase(), parts[i + 1]]);
      return { ok: true, packet: { op, options } };
    }
    default:
      return { ok: false, op, code: ERR.ILLEGAL_OPERATION, reason: `unknown opcode ${op}` };
  }
}

function strings(op: number, items: string[]): Buffer {
  let len = 2;
  for (const s of items) len += Buffer.byteLength(s, 'latin1') + 1;
  const b = Buffer.alloc(len);
  b.writeUInt16BE(op, 0);
  let o = 2;
  for (const s of items) {
    o += b.write(s, o, 'latin1');
    b[o++] = 0;
  }
  return b;
}

/** Encode one packet. Block numbers are taken modulo 65536. */
export function encode(p: TftpPacket): Buffer {
  switch (p.op) {
    case OP.RRQ:
    case OP.WRQ:
      return strings(p.op, [p.filename, p.mode, ...p.options.flat()]);
    case OP.DATA: {
      const b = Buffer.allocUnsafe(4 + p.data.length);
      b.writeUInt16BE(OP.DATA, 0);
      b.writeUInt16BE(p.block & 0xffff, 2);
      p.data.copy(b, 4);
      return b;
    }
    case OP.ACK: {
      const b = Buffer.allocUnsafe(4);
      b.writeUInt16BE(OP.ACK, 0);
      b.writeUInt16BE(p.block & 0xffff, 2);
      return b;
    }
    case OP.ERROR: {
      // RFC 1350 figure 5-4: opcode, ErrorCode, ErrMsg, 0
      const out = Buffer.alloc(4 + Buffer.byteLength(p.message, 'latin1') + 1);
      out.writeUInt16BE(OP.ERROR, 0);
      out.writeUInt16BE(p.code & 0xffff, 2);
      out.write(p.message, 4, 'latin1');
      return out;
    }
    case OP.OACK:
      return strings(OP.OACK, p.options.flat());
  }
}

/** Write a DATA header (RFC 1350 figure 5-2) into `buf[0..4)`. */
export function writeDataHeader(buf: Buffer, block: number): void {
  buf.writeUInt16BE(OP.DATA, 0);
  buf.writeUInt16BE(block & 0xffff, 2);
}
