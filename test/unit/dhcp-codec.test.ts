import { describe, expect, it } from 'vitest';
import { isCrowbarError } from '../../src/lib/errors.js';
import { BOOTREPLY, FLAG_BROADCAST, MAGIC_COOKIE, MessageType, Opt } from '../../src/protocols/dhcp/constants.js';
import { replyDestination } from '../../src/protocols/dhcp/destination.js';
import { optVal } from '../../src/protocols/dhcp/options.js';
import { chaddrString, decodeMessage, encodeMessage, messageType } from '../../src/protocols/dhcp/packet.js';
import { clientBootInfo, parseUserClass } from '../../src/protocols/dhcp/pxe.js';
import { fixture, requestMessage, requestPacket } from '../helpers/dhcp-packets.js';

function malformed(buf: Buffer): string {
  try {
    decodeMessage(buf);
  } catch (e) {
    expect(isCrowbarError(e, 'protocol.malformed')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('decoded a malformed packet');
}

/** A minimal valid request with a raw options area (after the cookie). */
function withOptions(opts: number[], total = 0): Buffer {
  const b = Buffer.alloc(Math.max(240 + opts.length, total));
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(MAGIC_COOKIE, 236);
  Buffer.from(opts).copy(b, 240);
  return b;
}

describe('dhcp codec: real captures', () => {
  it('decodes a udhcpc DISCOVER', () => {
    const m = decodeMessage(fixture('udhcpc-discover'));
    expect(m.op).toBe(1);
    expect(messageType(m)).toBe(MessageType.DISCOVER);
    expect(m.hlen).toBe(6);
    expect(chaddrString(m)).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(m.options.get(Opt.PARAMETER_LIST)!.length).toBeGreaterThan(3);
    expect(optVal.readU16(m.options.get(Opt.MAX_MESSAGE_SIZE))).toBe(576);
    expect(m.ciaddr).toBe('0.0.0.0');
  });

  it('decodes udhcpc SELECTING REQUEST with server id and requested address', () => {
    const m = decodeMessage(fixture('udhcpc-request-selecting'));
    expect(messageType(m)).toBe(MessageType.REQUEST);
    expect(optVal.readIp(m.options.get(Opt.SERVER_ID))).toBe('10.99.7.1');
    expect(optVal.readIp(m.options.get(Opt.REQUESTED_IP))).toBe('10.99.7.127');
  });

  it('reads PXE facts: vendor class, architecture (option 93)', () => {
    const m = decodeMessage(fixture('udhcpc-pxe-bios-discover'));
    const b = clientBootInfo(m.options);
    expect(b.bootClass).toBe('PXEClient');
    expect(b.vendorClass).toBe('PXEClient:Arch:00000:UNDI:002001');
    expect(b.arches).toEqual([0]);
    expect(b.ipxe).toBe(false);
  });

  it('reads the iPXE user class (option 77, bare string)', () => {
    const b = clientBootInfo(decodeMessage(fixture('udhcpc-ipxe-userclass-discover')).options);
    expect(b.userClasses).toEqual(['iPXE']);
    expect(b.ipxe).toBe(true);
  });

  it('decodes dhclient DISCOVER, REQUEST and RELEASE', () => {
    const d = decodeMessage(fixture('dhclient-discover'));
    expect(messageType(d)).toBe(MessageType.DISCOVER);
    const r = decodeMessage(fixture('dhclient-request-selecting'));
    expect(messageType(r)).toBe(MessageType.REQUEST);
    expect(optVal.readIp(r.options.get(Opt.SERVER_ID))).toBe('10.99.7.1');
    const rel = decodeMessage(fixture('dhclient-release'));
    expect(messageType(rel)).toBe(MessageType.RELEASE);
    expect(rel.ciaddr).toBe('10.99.7.127');
  });

  it('decodes our own OFFERs from the wire (PXE BIOS and iPXE)', () => {
    const o = decodeMessage(fixture('crowbar-offer-pxe-bios'));
    expect(o.op).toBe(BOOTREPLY);
    expect(o.file).toBe('undionly.kpxe');
    expect(o.siaddr).toBe('10.99.7.1');
    expect(o.options.get(Opt.VENDOR_CLASS)!.toString()).toBe('PXEClient');
    expect([...o.options.get(Opt.VENDOR_SPECIFIC)!]).toEqual([6, 1, 8, 255]);
    const i = decodeMessage(fixture('crowbar-offer-ipxe'));
    expect(i.file).toMatch(/^http:\/\/.*\/boot\/node\/([0-9a-f]{2}-){5}[0-9a-f]{2}\.ipxe$/);
    expect(optVal.readStr(i.options.get(Opt.BOOTFILE))).toBe(i.file);
  });

  it('round-trips every capture: decode(encode(decode(x))) is stable', () => {
    for (const n of ['udhcpc-discover', 'udhcpc-pxe-bios-request', 'dhclient-request-selecting', 'crowbar-offer-ipxe']) {
      const a = decodeMessage(fixture(n));
      const b = decodeMessage(encodeMessage(a));
      expect({ ...b, options: [...b.options].filter(([c]) => c !== Opt.PARAMETER_LIST) }).toEqual({
        ...a,
        options: [...a.options].filter(([c]) => c !== Opt.PARAMETER_LIST),
      });
    }
  });
});

describe('dhcp codec: options (RFC 2132 §2, RFC 3396)', () => {
  it('skips pad, stops at end, ignores bytes after end', () => {
    const m = decodeMessage(withOptions([0, 0, 53, 1, 1, 0, 12, 3, 97, 98, 99, 255, 99, 200, 1]));
    expect(messageType(m)).toBe(1);
    expect(optVal.readStr(m.options.get(12))).toBe('abc');
    expect(m.options.has(99)).toBe(false);
  });

  it('concatenates repeated options in order (RFC 3396 §5)', () => {
    const m = decodeMessage(withOptions([53, 1, 1, 12, 2, 104, 101, 12, 3, 108, 108, 111, 255]));
    expect(optVal.readStr(m.options.get(12))).toBe('hello');
  });

  it('splits a long option into 255-byte instances and joins it back (RFC 3396 §6)', () => {
    const msg = requestMessage({ type: 1, mac: '52:54:00:00:00:01', extra: [[Opt.VENDOR_SPECIFIC, Buffer.alloc(600, 7)]] });
    const buf = encodeMessage(msg);
    const at = buf.indexOf(Buffer.from([43, 255]), 240);
    expect(at).toBeGreaterThan(0);
    const back = decodeMessage(buf);
    expect(back.options.get(Opt.VENDOR_SPECIFIC)!.equals(Buffer.alloc(600, 7))).toBe(true);
  });

  it('reads options from file and sname when option 52 says so (RFC 2131 §4.1)', () => {
    const b = withOptions([53, 1, 1, 52, 1, 3, 12, 2, 104, 105, 255]);
    Buffer.from([12, 1, 33, 66, 1, 120, 255]).copy(b, 108); // file: more of 12, then 66
    Buffer.from([67, 2, 102, 49, 255]).copy(b, 44); // sname: 67
    const m = decodeMessage(b);
    expect(optVal.readStr(m.options.get(12))).toBe('hi!');
    expect(optVal.readStr(m.options.get(66))).toBe('x');
    expect(optVal.readStr(m.options.get(67))).toBe('f1');
    expect(m.file).toBe('');
    expect(m.sname).toBe('');
  });

  it('parses RFC 3004 user class lists and bare strings', () => {
    expect(parseUserClass(Buffer.from([4, 105, 80, 88, 69, 2, 120, 121]))).toEqual(['iPXE', 'xy']);
    expect(parseUserClass(Buffer.from('iPXE'))).toEqual(['iPXE']);
  });
});

describe('dhcp codec: encoding', () => {
  it('pads replies to 300 bytes (RFC 1542 §2.1) and writes the cookie', () => {
    const buf = requestPacket({ type: 1, mac: '52:54:00:00:00:01' });
    expect(buf.length).toBe(300);
    expect(buf.readUInt32BE(236)).toBe(MAGIC_COOKIE);
  });

  it('honours option 57: drops unrequested options, then overloads file/sname', () => {
    const big = Buffer.alloc(250, 1);
    const msg = requestMessage({ type: 2, mac: '52:54:00:00:00:01' });
    msg.op = BOOTREPLY;
    msg.options.set(Opt.PARAMETER_LIST, Buffer.from([1, 3, 120]));
    msg.options.set(Opt.SERVER_ID, optVal.ips('10.0.0.1'));
    msg.options.set(Opt.SUBNET_MASK, optVal.ips('255.255.255.0'));
    msg.options.set(200, big); // not requested
    msg.options.set(120, Buffer.alloc(200, 2)); // requested
    msg.options.set(121, Buffer.alloc(10, 3)); // not requested
    const full = encodeMessage(msg, 1500);
    expect(decodeMessage(full).options.has(200)).toBe(true);
    const small = encodeMessage(msg, 576);
    expect(small.length).toBeLessThanOrEqual(576);
    const d = decodeMessage(small);
    expect(d.options.has(200)).toBe(false);
    expect(d.options.has(121)).toBe(false);
    expect(d.options.get(120)!.length).toBe(200);
    expect(d.options.has(Opt.SUBNET_MASK)).toBe(true);
    // more than fits in the options field: the rest goes into file (option 52)
    msg.options.set(Opt.PARAMETER_LIST, Buffer.from([1, 3, 120, 122]));
    msg.options.set(120, Buffer.alloc(250, 2));
    msg.options.set(122, Buffer.alloc(100, 4));
    const ov = encodeMessage(msg, 576);
    expect(ov.length).toBeLessThanOrEqual(576);
    const dv = decodeMessage(ov);
    expect(dv.options.get(Opt.OVERLOAD)![0] & 1).toBe(1);
    expect(dv.options.get(120)!.equals(Buffer.alloc(250, 2))).toBe(true);
    expect(dv.options.get(122)!.equals(Buffer.alloc(100, 4))).toBe(true);
  });
});

describe('dhcp codec: malformed input', () => {
  it('rejects truncated packets', () => {
    expect(malformed(Buffer.alloc(0))).toMatch(/truncated/);
    expect(malformed(fixture('udhcpc-discover').subarray(0, 239))).toMatch(/truncated/);
  });
  it('rejects a missing magic cookie', () => {
    const b = Buffer.from(fixture('udhcpc-discover'));
    b.writeUInt32BE(0, 236);
    expect(malformed(b)).toMatch(/cookie/);
  });
  it('rejects an option overrunning the packet', () => {
    expect(malformed(withOptions([53, 1, 1, 12, 50, 1, 2]))).toMatch(/overruns/);
    expect(malformed(withOptions([53, 1, 1, 12]))).toMatch(/length/);
  });
  it('rejects a huge hlen and a bad op', () => {
    const b = Buffer.from(fixture('udhcpc-discover'));
    b[2] = 200;
    expect(malformed(b)).toMatch(/hlen/);
    const c = Buffer.from(fixture('udhcpc-discover'));
    c[0] = 9;
    expect(malformed(c)).toMatch(/op/);
  });
  it('rejects a bad overload value', () => {
    expect(malformed(withOptions([53, 1, 1, 52, 1, 9, 255]))).toMatch(/52/);
  });
  it('never throws anything but protocol.malformed on random or mutated input', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    const base = fixture('udhcpc-pxe-bios-request');
    for (let i = 0; i < 3000; i++) {
      let b: Buffer;
      if (i % 2) {
        b = Buffer.alloc(rnd() * 3);
        for (let k = 0; k < b.length; k++) b[k] = rnd();
        if (b.length >= 240 && i % 4 === 1) b.writeUInt32BE(MAGIC_COOKIE, 236);
      } else {
        b = Buffer.from(base.subarray(0, 240 + (rnd() % (base.length - 239))));
        for (let k = 0; k < 4; k++) b[240 + (rnd() % (b.length - 240 || 1))] = rnd();
      }
      try {
        decodeMessage(b);
      } catch (e) {
        expect(isCrowbarError(e, 'protocol.malformed')).toBe(true);
      }
    }
  });
});

describe('dhcp reply destination (RFC 2131 §4.1)', () => {
  const base = { giaddr: '0.0.0.0', ciaddr: '0.0.0.0', flags: 0, from: { address: '0.0.0.0', port: 68 }, listener: 'dhcp' as const, serverPort: 67, clientPort: 68, broadcast: '10.0.0.255' };
  it('relayed -> giaddr:67, NAK sets the broadcast flag', () => {
    expect(replyDestination({ ...base, type: MessageType.OFFER, giaddr: '10.9.0.1' })).toEqual({ address: '10.9.0.1', port: 67, setBroadcastFlag: false });
    expect(replyDestination({ ...base, type: MessageType.NAK, giaddr: '10.9.0.1' }).setBroadcastFlag).toBe(true);
  });
  it('NAK broadcast; ciaddr unicast; otherwise broadcast', () => {
    // RFC 2131 §4.1: broadcasts go to 0xffffffff; the subnet broadcast is only the fallback.
    expect(replyDestination({ ...base, type: MessageType.NAK, ciaddr: '10.0.0.5' })).toEqual({ address: '255.255.255.255', port: 68, setBroadcastFlag: false, fallback: '10.0.0.255' });
    expect(replyDestination({ ...base, type: MessageType.ACK, ciaddr: '10.0.0.5' })).toEqual({ address: '10.0.0.5', port: 68, setBroadcastFlag: false });
    expect(replyDestination({ ...base, type: MessageType.OFFER, flags: FLAG_BROADCAST })).toEqual({ address: '255.255.255.255', port: 68, setBroadcastFlag: false, fallback: '10.0.0.255' });
    expect(replyDestination({ ...base, type: MessageType.OFFER }).address).toBe('255.255.255.255');
  });
  it('PXE port -> back to the source', () => {
    expect(replyDestination({ ...base, type: MessageType.ACK, listener: 'pxe', from: { address: '10.0.0.7', port: 4011 } })).toEqual({ address: '10.0.0.7', port: 4011, setBroadcastFlag: false });
  });
});
