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
  /**
   * Where to send instead when `address` (the limited broadcast) cannot be
   * sent to: the subnet's directed broadcast. Absent for unicast replies.
   */
  fallback?: string;
}

/** The limited broadcast address (RFC 919, RFC 2131 §4.1). */
export const LIMITED_BROADCAST = '255.255.255.255';

/**
 * RFC 2131 §4.1: relayed (giaddr != 0) -> giaddr:67; NAK -> broadcast;
 * ciaddr != 0 -> unicast ciaddr:68; broadcast bit -> broadcast to
 * 0xffffffff; otherwise the RFC asks for unicast to yiaddr/chaddr, which
 * needs an ARP entry Node cannot install, so we use the "MAY be sent as an IP
 * broadcast" clause. Broadcasts go to 255.255.255.255 (firmware such as
 * OVMF's PXE client accepts nothing else before it has an address) with the
 * subnet's directed broadcast as the fallback when the host has no route for
 * the limited broadcast. Requests on the PXE port (4011) are answered to
 * their source address and port (PXE 2.1 §2.2.2).
 */
export function replyDestination(d: DestinationInput): Destination {
  if (d.listener === 'pxe') return { address: d.from.address, port: d.from.port, setBroadcastFlag: false };
  if (d.giaddr !== '0.0.0.0') return { address: d.giaddr, port: d.serverPort, setBroadcastFlag: d.type === MessageType.NAK };
  const bcast: Destination = { address: LIMITED_BROADCAST, port: d.clientPort, setBroadcastFlag: false, fallback: d.broadcast };
  if (d.type === MessageType.NAK) return bcast;
  if (d.ciaddr !== '0.0.0.0') return { address: d.ciaddr, port: d.clientPort, setBroadcastFlag: false };
  return bcast;
}
