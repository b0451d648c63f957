import { describe, expect, it } from 'vitest';
import { decode, encode, ERR, OP } from '../../src/protocols/tftp/packet.js';
import { negotiate } from '../../src/protocols/tftp/options.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('tftp packet codec', () => {
  it('decodes an RRQ with options as sent by curl (RFC 2347 layout)', () => {
    // 00 01 "f.bin" 00 "octet" 00 "tsize" 00 "0" 00 "blksize" 00 "1468" 00
    const b = Buffer.concat([hex('0001'), Buffer.from('f.bin\0octet\0tsize\x000\0BLKSIZE\x001468\0', 'latin1')]);
    const d = decode(b);
    expect(d).toEqual({ ok: true, packet: { op: OP.RRQ, filename: 'f.bin', mode: 'octet', options: [['tsize', '0'], ['blksize', '1468']] } });
    expect(encode(d.ok ? d.packet : (null as never)).equals(Buffer.concat([hex('0001'), Buffer.from('f.bin\0octet\0tsize\x000\0blksize\x001468\0', 'latin1')]))).toBe(true);
  });

  it('round-trips DATA, ACK, ERROR and OACK (RFC 1350 figures 5-2..5-4, RFC 2347 OACK)', () => {
    const data = encode({ op: OP.DATA, block: 65536 + 7, data: Buffer.from('abc') });
    expect(data.equals(hex('0003 0007 616263'))).toBe(true);
    expect(decode(data)).toEqual({ ok: true, packet: { op: OP.DATA, block: 7, data: Buffer.from('abc') } });
    expect(encode({ op: OP.ACK, block: 258 }).equals(hex('0004 0102'))).toBe(true);
    const err = encode({ op: OP.ERROR, code: ERR.FILE_NOT_FOUND, message: 'nope' });
    expect(err.equals(hex('0005 0001 6e6f706500'))).toBe(true);
    expect(decode(err)).toEqual({ ok: true, packet: { op: OP.ERROR, code: 1, message: 'nope' } });
    const oack = encode({ op: OP.OACK, options: [['blksize', '1468'], ['tsize', '99']] });
    expect(oack.equals(Buffer.concat([hex('0006'), Buffer.from('blksize\x001468\0tsize\x0099\0')]))).toBe(true);
    expect(decode(oack)).toEqual({ ok: true, packet: { op: OP.OACK, options: [['blksize', '1468'], ['tsize', '99']] } });
  });

  it('rejects malformed datagrams without throwing', () => {
    expect(decode(Buffer.from([1]))).toMatchObject({ ok: false });
    expect(decode(Buffer.alloc(0))).toMatchObject({ ok: false });
    expect(decode(Buffer.from('\x00\x01file.bin', 'latin1'))).toMatchObject({ ok: false, code: ERR.ILLEGAL_OPERATION });
    expect(decode(Buffer.from('\x00\x01file.bin\0', 'latin1'))).toMatchObject({ ok: false, code: ERR.ILLEGAL_OPERATION });
    expect(decode(Buffer.from('\x00\x01\0octet\0', 'latin1'))).toMatchObject({ ok: false, code: ERR.ILLEGAL_OPERATION });
    expect(decode(Buffer.from('\x00\x01f\0octet\0blksize\0', 'latin1'))).toMatchObject({ ok: false, code: ERR.OPTION_REFUSED });
    expect(decode(Buffer.from('\x00\x09xx', 'latin1'))).toMatchObject({ ok: false, code: ERR.ILLEGAL_OPERATION });
    expect(decode(Buffer.from('\x00\x04\x00', 'latin1'))).toMatchObject({ ok: false });
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(Array.from({ length: (i % 40) + 1 }, (_, j) => (i * 31 + j * 7) & 0xff));
      expect(() => decode(junk)).not.toThrow();
    }
  });

  it('tolerates one trailing NUL of padding after the options', () => {
    const d = decode(Buffer.from('\x00\x01f\0octet\0tsize\x000\0\0', 'latin1'));
    expect(d).toMatchObject({ ok: true, packet: { options: [['tsize', '0']] } });
  });
});

describe('tftp option negotiation', () => {
  const lim = { maxBlksize: 65464, maxWindowsize: 64 };
  it('grants blksize, tsize, timeout and windowsize in request order (RFC 2348, 2349, 7440)', () => {
    const n = negotiate([['tsize', '0'], ['blksize', '1468'], ['timeout', '3'], ['windowsize', '16']], 1000, lim);
    expect(n).toMatchObject({ blksize: 1468, windowsize: 16, timeoutSec: 3 });
    expect(n.oack).toEqual([['tsize', '1000'], ['blksize', '1468'], ['timeout', '3'], ['windowsize', '16']]);
  });
  it('ignores invalid values instead of failing (blksize 0, windowsize 0, tsize enable, timeout 0)', () => {
    const n = negotiate([['blksize', '0'], ['windowsize', '0'], ['tsize', 'enable'], ['timeout', '0'], ['multicast', '']], 5, lim);
    expect(n).toMatchObject({ blksize: 512, windowsize: 1, timeoutSec: null, oack: [] });
    expect(n.ignored.map((i) => i.name)).toEqual(['blksize', 'windowsize', 'tsize', 'timeout', 'multicast']);
  });
  it('caps blksize at 65464 and at the configured maximum, windowsize at its maximum', () => {
    expect(negotiate([['blksize', '70000']], 1, lim).oack).toEqual([['blksize', '65464']]);
    expect(negotiate([['blksize', '9000'], ['windowsize', '1000']], 1, { maxBlksize: 1468, maxWindowsize: 32 }).oack).toEqual([
      ['blksize', '1468'],
      ['windowsize', '32'],
    ]);
    expect(negotiate([['blksize', '99999999999']], 1, lim).blksize).toBe(512);
  });
  it('omits tsize when the size is unknown (netascii) and keeps the first of duplicate options', () => {
    expect(negotiate([['tsize', '0']], null, lim).oack).toEqual([]);
    expect(negotiate([['blksize', '1024'], ['blksize', '2048']], 1, lim).blksize).toBe(1024);
  });
});
