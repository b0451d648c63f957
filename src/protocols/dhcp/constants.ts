/**
 * DHCPv4 constants: ports, the magic cookie, message types and the option
 * codes this server reads or writes (RFC 2131, RFC 2132, RFC 3004, RFC 3046,
 * RFC 4578, PXE 2.1).
 */

/** Server port (RFC 2131 §4.1). */
export const SERVER_PORT = 67;
/** Client port (RFC 2131 §4.1). */
export const CLIENT_PORT = 68;
/** PXE boot server / proxyDHCP port (PXE 2.1 §2.2.2). */
export const PXE_PORT = 4011;

/** The DHCP magic cookie 99.130.83.99 (RFC 2131 §3). */
export const MAGIC_COOKIE = 0x63825363;

/** Size of the fixed BOOTP header before the cookie (RFC 2131 §2, Figure 1). */
export const HEADER_SIZE = 236;
/** Offset of the `sname` field. */
export const SNAME_OFFSET = 44;
/** Length of the `sname` field. */
export const SNAME_SIZE = 64;
/** Offset of the `file` field. */
export const FILE_OFFSET = 108;
/** Length of the `file` field. */
export const FILE_SIZE = 128;
/** Minimum BOOTP message a relay agent or client must accept (RFC 1542 §2.1): replies are padded to it. */
export const MIN_REPLY_SIZE = 300;
/** Minimum "maximum message size" any client must accept (RFC 2131 §2: 576-byte datagrams, i.e. 548 octets of DHCP). */
export const MIN_MAX_MESSAGE_SIZE = 576;

/** BOOTP op codes (RFC 2131 §2). */
export const BOOTREQUEST = 1;
/** BOOTP reply op code. */
export const BOOTREPLY = 2;
/** Broadcast bit of the flags field (RFC 2131 §2, Figure 2). */
export const FLAG_BROADCAST = 0x8000;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
/** A DHCP message type number. */
export type MessageTypeNumber = (typeof MessageType)[keyof typeof MessageType];

/** Names of message types for logs. */
export const MESSAGE_TYPE_NAMES: Record<number, string> = {
  1: 'DISCOVER',
  2: 'OFFER',
  3: 'REQUEST',
  4: 'DECLINE',
  5: 'ACK',
  6: 'NAK',
  7: 'RELEASE',
  8: 'INFORM',
};

/** Option codes used here (RFC 2132 unless noted). */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST_ADDRESS: 28,
  NTP_SERVERS: 42,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  /** User class (RFC 3004); iPXE sends the bare string "iPXE". */
  USER_CLASS: 77,
  /** Relay agent information (RFC 3046). */
  RELAY_AGENT_INFO: 82,
  /** Client system architecture (RFC 4578 §2.1). */
  CLIENT_ARCH: 93,
  /** Client network device interface (RFC 4578 §2.2). */
  CLIENT_NDI: 94,
  /** Client machine identifier, UUID/GUID (RFC 4578 §2.3). */
  CLIENT_UUID: 97,
  /** iPXE encapsulated options (iPXE's own assignment). */
  IPXE_ENCAP: 175,
  END: 255,
} as const;
