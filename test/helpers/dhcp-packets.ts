/**
 * Builders for DHCP test packets (requests as a client or relay would send
 * them), on top of the project's codec.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOTREQUEST, FLAG_BROADCAST, Opt } from '../../src/protocols/dhcp/constants.js';
import { optVal } from '../../src/protocols/dhcp/options.js';
import { encodeMessage, type DhcpMessage } from '../../src/protocols/dhcp/packet.js';

/** Hex fixture from test/fixtures/dhcp. */
export function fixture(name: string): Buffer {
  return Buffer.from(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'dhcp', `${name}.hex`), 'utf8').trim(), 'hex');
}

/** Fields of a test request. */
export interface ReqSpec {
  type: number;
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  broadcast?: boolean;
  requested?: string;
  serverId?: string;
  extra?: Array<[number, Buffer]>;
}

/** A request message. */
export function requestMessage(s: ReqSpec): DhcpMessage {
  const options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, optVal.u8(s.type)]]);
  if (s.requested) options.set(Opt.REQUESTED_IP, optVal.ips(s.requested));
  if (s.serverId) options.set(Opt.SERVER_ID, optVal.ips(s.serverId));
  for (const [c, v] of s.extra ?? []) options.set(c, v);
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: s.xid ?? 0x12345678,
    secs: 0,
    flags: s.broadcast ? FLAG_BROADCAST : 0,
    ciaddr: s.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: s.giaddr ?? '0.0.0.0',
    chaddr: Buffer.from(s.mac.replace(/:/g, ''), 'hex'),
    sname: '',
    file: '',
    options,
  };
}

/** An encoded request. */
export function requestPacket(s: ReqSpec): Buffer {
  return encodeMessage(requestMessage(s));
}
