/**
 * Where a reply goes (RFC 2131 §4.1, "server port/client port" rules, and
 * PXE 2.1 §2.2.2 for port 4011). Pure so it can be tested alone.
 */
import { MessageType } from './constants.js';
import type { DhcpListener } from './policy.js';

/** Inputs of the destination rule. */
export interface DestinationInput {
  /** Reply type (OFFER/ACK/NAK). */
  type: number;
  /** Request fields. */
  giaddr: string;
  ciaddr: string;
  flags: number;
  /** Datagram source. */
  from: { address: string; port: number };
  listener: DhcpListener;
  /** Ports: the server port relays listen on, the client port. */
  serverPort: number;
  clientPort: number;
  /** Broadcast address of the directly attached subnet. */
  broadcast: string;
}

/** A reply destination. */
export interface Destination {
  address: string;
  port: number;
  /** Set the broadcast flag in the reply (NAK through a relay, RFC 2131 §4.3.2). */
  setBroadcastFlag: boolean;
}

/**
 * RFC 2131 §4.1: relayed (giaddr != 0) -> giaddr:67; NAK -> broadcast;
 * ciaddr != 0 -> unicast ciaddr:68; broadcast bit -> broadcast; otherwise
 * the RFC asks for unicast to yiaddr/chaddr, which needs an ARP entry Node
 * cannot install, so we use the "MAY be sent as an IP broadcast" clause.
 * Requests on the PXE port (4011) are answered to their source address and
 * port (PXE 2.1 §2.2.2).
 */
export function replyDestination(d: DestinationInput): Destination {
  if (d.listener === 'pxe') return { address: d.from.address, port: d.from.port, setBroadcastFlag: false };
  if (d.giaddr !== '0.0.0.0') return { address: d.giaddr, port: d.serverPort, setBroadcastFlag: d.type === MessageType.NAK };
  if (d.type === MessageType.NAK) return { address: d.broadcast, port: d.clientPort, setBroadcastFlag: false };
  if (d.ciaddr !== '0.0.0.0') return { address: d.ciaddr, port: d.clientPort, setBroadcastFlag: false };
  return { address: d.broadcast, port: d.clientPort, setBroadcastFlag: false };
}
