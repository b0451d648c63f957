/** Parsing of `a.b.c.d` / `a.b.c.d:port` upstream entries from the configuration. */
import { ipToInt } from '../lib/ip.js';

/** An IPv4 address and port. */
export interface HostPort {
  address: string;
  port: number;
}

/** Parse `a.b.c.d` or `a.b.c.d:port` (port defaults to `defaultPort`); throws bad_request. */
export function parseHostPort(s: string, defaultPort: number): HostPort {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(s);
  const address = m ? m[1] : s;
  ipToInt(address); // validates
  return { address, port: m?.[2] ? Number(m[2]) : defaultPort };
}
