/**
 * A simulated machine's DHCP client (RFC 2131 §3.1 DORA) through its rack's
 * relay: DISCOVER with the options a PXE ROM (vendor class PXEClient, arch
 * option 93, UUID option 97) or iPXE (user class "iPXE") sends, REQUEST of
 * the offered address, ACK. Retransmits with backoff; a share of requests can
 * be dropped (packet-loss fault).
 */
import { BOOTREQUEST, MessageType, Opt } from '../protocols/dhcp/constants.js';
import { optVal } from '../protocols/dhcp/options.js';
import { messageType, type DhcpMessage } from '../protocols/dhcp/packet.js';
import { CrowbarError } from '../lib/errors.js';
import type { DhcpRelay } from './relay.js';

/** What a machine presents to DHCP. */
export interface DhcpIdentity {
  mac: string;
  /** RFC 4578 architecture: 0 BIOS, 7 UEFI x64. */
  arch: number;
  /** 16-byte system UUID. */
  uuid: Buffer;
  /** True once iPXE runs (user class "iPXE"). */
  ipxe: boolean;
  hostname?: string;
}

/** The acknowledged lease. */
export interface DhcpLease {
  address: string;
  serverId: string;
  /** Boot file (option 67 or the BOOTP file field). */
  file: string;
  /** Next server (siaddr). */
  nextServer: string;
  hostname: string | null;
}

/** Retry settings. */
export interface DhcpClientOptions {
  /** First wait for a reply; doubles per retry (RFC 2131 §4.1). */
  timeoutMs: number;
  /** Attempts per message. */
  attempts: number;
  /** Returns true when this datagram is lost. */
  lose: () => boolean;
  /** Transaction ids. */
  xid: () => number;
}

function message(id: DhcpIdentity, type: number, xid: number, extra: Array<[number, Buffer]>): DhcpMessage {
  const options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, optVal.u8(type)]]);
  options.set(Opt.PARAMETER_LIST, Buffer.from([1, 3, 6, 12, 15, 28, 42, 43, 60, 66, 67, 175]));
  options.set(Opt.MAX_MESSAGE_SIZE, optVal.u16(1472));
  options.set(Opt.VENDOR_CLASS, optVal.str(`PXEClient:Arch:${String(id.arch).padStart(5, '0')}:UNDI:003016`));
  options.set(Opt.CLIENT_ARCH, optVal.u16(id.arch));
  options.set(Opt.CLIENT_NDI, Buffer.from([1, 3, 16]));
  options.set(Opt.CLIENT_UUID, Buffer.concat([Buffer.from([0]), id.uuid]));
  if (id.ipxe) options.set(Opt.USER_CLASS, optVal.str('iPXE'));
  for (const [k, v] of extra) options.set(k, v);
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: Buffer.from(id.mac.replace(/:/g, ''), 'hex'),
    sname: '',
    file: '',
    options,
  };
}

async function ask(relay: DhcpRelay, msg: DhcpMessage, want: number[], o: DhcpClientOptions): Promise<DhcpMessage | null> {
  let wait = o.timeoutMs;
  const mac = msg.chaddr.toString('hex');
  for (let i = 0; i < o.attempts; i++) {
    const r = await relay.exchange(msg, (m) => m.chaddr.subarray(0, 6).toString('hex') === mac && want.includes(messageType(m) ?? -1), wait, o.lose());
    if (r) return r;
    wait = Math.min(wait * 2, 8000);
  }
  return null;
}

/** Run DISCOVER/OFFER/REQUEST/ACK; throws pool.exhausted-like errors as bad_request with a reason. */
export async function dora(relay: DhcpRelay, id: DhcpIdentity, o: DhcpClientOptions): Promise<DhcpLease> {
  for (let round = 0; round < 3; round++) {
    const xid = o.xid();
    const offer = await ask(relay, message(id, MessageType.DISCOVER, xid, []), [MessageType.OFFER], o);
    if (!offer) throw new CrowbarError('service.failed', `DHCP: no OFFER for ${id.mac} after ${o.attempts} DISCOVERs`);
    const serverId = optVal.readIp(offer.options.get(Opt.SERVER_ID)) ?? '';
    const req = message(id, MessageType.REQUEST, xid, [
      [Opt.REQUESTED_IP, optVal.ips(offer.yiaddr)],
      [Opt.SERVER_ID, optVal.ips(serverId)],
    ]);
    const ack = await ask(relay, req, [MessageType.ACK, MessageType.NAK], o);
    if (!ack) throw new CrowbarError('service.failed', `DHCP: no ACK for ${id.mac} (${offer.yiaddr})`);
    if (messageType(ack) === MessageType.NAK) continue; // RFC 2131 §3.1 step 5: start over.
    const file = optVal.readStr(ack.options.get(Opt.BOOTFILE)) ?? ack.file;
    return { address: ack.yiaddr, serverId, file, nextServer: ack.siaddr, hostname: optVal.readStr(ack.options.get(Opt.HOSTNAME)) };
  }
  throw new CrowbarError('conflict', `DHCP: ${id.mac} was NAKed three times`);
}
