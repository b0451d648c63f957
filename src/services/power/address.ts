/** BMC address parsing: "host" or "host:port" (IPMI over LAN uses UDP 623 by default). */
import { CrowbarError } from '../../lib/errors.js';
import { isIPv4 } from '../../lib/ip.js';

/** The RMCP port (IPMI v2.0 §13.1.1). */
export const RMCP_PORT = 623;

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Parse and validate a BMC address; bad_request when malformed. */
export function parseBmcAddress(a: string): { host: string; port: number } {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(a.trim());
  if (!m || !(isIPv4(m[1]) || HOSTNAME.test(m[1]))) throw new CrowbarError('bad_request', `BMC address ${JSON.stringify(a)} is not host or host:port`);
  const port = m[2] ? Number(m[2]) : RMCP_PORT;
  if (port < 1 || port > 65535) throw new CrowbarError('bad_request', `BMC port ${port} is out of range`);
  return { host: m[1], port };
}
