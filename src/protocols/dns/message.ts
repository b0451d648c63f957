/**
 * DNS message types and constants (RFC 1035 §4.1, RFC 6891 for EDNS0,
 * RFC 3596 for AAAA).
 */

/** Resource record types this module knows by name (RFC 1035 §3.2.2, RFC 3596, RFC 6891). */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  AXFR: 252,
  ANY: 255,
} as const;

/** Class IN (RFC 1035 §3.2.4). */
export const CLASS_IN = 1;

/** Response codes (RFC 1035 §4.1.1, RFC 6891 §9 for BADVERS). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** Header flags (RFC 1035 §4.1.1; AD/CD from RFC 4035 §3.2). */
export interface DnsFlags {
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** Low 4 bits of the rcode (the high bits live in the OPT record). */
  rcode: number;
}

/** A question (RFC 1035 §4.1.2). */
export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/** SOA RDATA (RFC 1035 §3.3.13). */
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** RDATA by kind: addresses, a domain name (NS/CNAME/PTR), SOA, or opaque bytes. */
export type RData =
  | { kind: 'a'; address: string }
  | { kind: 'aaaa'; address: string }
  | { kind: 'name'; target: string }
  | { kind: 'soa'; soa: SoaData }
  | { kind: 'raw'; bytes: Buffer };

/** A resource record (RFC 1035 §4.1.3); OPT is kept apart in `DnsMessage.edns`. */
export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RData;
}

/** EDNS0 OPT pseudo-record fields (RFC 6891 §6.1.2-6.1.3). */
export interface Edns {
  /** Requestor's UDP payload size. */
  udpSize: number;
  /** Upper 8 bits of the 12-bit rcode. */
  extRcode: number;
  version: number;
  /** DNSSEC OK (RFC 3225). */
  do: boolean;
  /** Raw options (RDATA). */
  options: Buffer;
}

/** A whole message. */
export interface DnsMessage {
  id: number;
  flags: DnsFlags;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  /** Present when the message carries an OPT record. */
  edns?: Edns;
}

/** Flags of a fresh response to `q` (QR set, opcode and RD/CD copied, RFC 1035 §4.1.1). */
export function responseFlags(q: DnsFlags, rcode: number, aa: boolean): DnsFlags {
  return { qr: true, opcode: q.opcode, aa, tc: false, rd: q.rd, ra: false, ad: false, cd: q.cd, rcode };
}

/** The largest UDP payload we send (RFC 6891 §6.2.5; DNS Flag Day 2020 figure). */
export const MAX_UDP_PAYLOAD = 1232;

/** UDP payload limit for a response to a query with/without EDNS (RFC 6891 §6.2.3-6.2.5, RFC 1035 §4.2.1). */
export function udpLimit(edns: Edns | undefined): number {
  if (!edns) return 512;
  return Math.max(512, Math.min(edns.udpSize, MAX_UDP_PAYLOAD));
}
