/**
 * The interface the DHCP server loop consults (like pixiecore's Booter): the
 * loop decodes, validates and routes packets; the policy decides what to
 * answer. A null answer means silence (RFC 2131 §4.3: e.g. a REQUEST for
 * another server).
 */
import type { DhcpOptions } from './options.js';
import type { DhcpMessage } from './packet.js';

/** Where a request arrived. */
export type DhcpListener = 'dhcp' | 'pxe';

/** A decoded, validated request handed to the policy. */
export interface DhcpRequest {
  /** The message (op BOOTREQUEST, option 53 present). */
  msg: DhcpMessage;
  /** Option 53 value. */
  type: number;
  /** Client hardware address `aa:bb:...` (lower case; any hlen up to 16). */
  mac: string;
  /** Source address and port of the datagram. */
  from: { address: string; port: number };
  /** Which socket received it: the DHCP port (67) or the PXE port (4011). */
  listener: DhcpListener;
}

/** The policy's answer: the reply message type and what to put in it. */
export interface DhcpAnswer {
  /** OFFER, ACK or NAK. */
  type: number;
  /** Address offered/assigned (0.0.0.0 for NAK, INFORM and proxy answers). */
  yiaddr: string;
  /** Next server (TFTP) address, or 0.0.0.0. */
  siaddr?: string;
  /** BOOTP `file` field. */
  file?: string;
  /** BOOTP `sname` field. */
  sname?: string;
  /** Reply options (53 is set by the server; order is kept). */
  options: DhcpOptions;
}

/**
 * Decides the answer to a request. May return a promise: the loop sends the
 * reply only when it resolves (so a lease can be committed before its ACK).
 * Return null to stay silent. Must not throw for bad client input; a
 * rejection is logged and treated as silence.
 */
export interface DhcpPolicy {
  answer(req: DhcpRequest): DhcpAnswer | null | Promise<DhcpAnswer | null>;
}
