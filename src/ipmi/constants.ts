/**
 * Numbers from the IPMI v2.0 specification (rev 1.1) used by the client:
 * network functions, command codes, completion codes (§5.2, table 5-2),
 * RMCP+ status codes (§13.24, table 13-15) and payload types (§13.27.3).
 */

/** Network function codes of requests (§5.1, table 5-1); responses use netFn + 1. */
export const NetFn = {
  chassis: 0x00,
  app: 0x06,
  transport: 0x0c,
} as const;

/** Command codes used by Crowbar (§G, command number assignments). */
export const Cmd = {
  // App netFn
  getDeviceId: 0x01,
  getChannelAuthCapabilities: 0x38,
  setSessionPrivilegeLevel: 0x3b,
  closeSession: 0x3c,
  setUserAccess: 0x43,
  getUserAccess: 0x44,
  setUserName: 0x45,
  getUserName: 0x46,
  setUserPassword: 0x47,
  // Chassis netFn
  getChassisStatus: 0x01,
  chassisControl: 0x02,
  chassisIdentify: 0x04,
  setSystemBootOptions: 0x08,
  getSystemBootOptions: 0x09,
  // Transport netFn
  setLanConfig: 0x01,
  getLanConfig: 0x02,
} as const;

/** RMCP+ payload types (§13.27.3). */
export const PayloadType = {
  ipmi: 0x00,
  openSessionRequest: 0x10,
  openSessionResponse: 0x11,
  rakp1: 0x12,
  rakp2: 0x13,
  rakp3: 0x14,
  rakp4: 0x15,
} as const;

/** Privilege levels (§6.8). */
export const Privilege = {
  callback: 0x01,
  user: 0x02,
  operator: 0x03,
  administrator: 0x04,
  oem: 0x05,
  noAccess: 0x0f,
} as const;

/** Completion code descriptions (§5.2, table 5-2). */
export const COMPLETION_CODES: Readonly<Record<number, string>> = {
  0x00: 'ok',
  0xc0: 'node busy',
  0xc1: 'invalid command',
  0xc2: 'command invalid for given LUN',
  0xc3: 'timeout while processing command',
  0xc4: 'out of space',
  0xc5: 'reservation cancelled or invalid',
  0xc6: 'request data truncated',
  0xc7: 'request data length invalid',
  0xc8: 'request data field length limit exceeded',
  0xc9: 'parameter out of range',
  0xca: 'cannot return number of requested data bytes',
  0xcb: 'requested sensor, data, or record not present',
  0xcc: 'invalid data field in request',
  0xcd: 'command illegal for specified sensor or record type',
  0xce: 'command response could not be provided',
  0xcf: 'cannot execute duplicated request',
  0xd0: 'SDR repository in update mode',
  0xd1: 'device in firmware update mode',
  0xd2: 'BMC initialization in progress',
  0xd3: 'destination unavailable',
  0xd4: 'insufficient privilege level',
  0xd5: 'command not supported in present state',
  0xd6: 'command sub-function disabled or unavailable',
  0xff: 'unspecified error',
};

/** RMCP+ and RAKP message status codes (§13.24, table 13-15). */
export const RMCP_STATUS: Readonly<Record<number, string>> = {
  0x00: 'no errors',
  0x01: 'insufficient resources to create a session',
  0x02: 'invalid session ID',
  0x03: 'invalid payload type',
  0x04: 'invalid authentication algorithm',
  0x05: 'invalid integrity algorithm',
  0x06: 'no matching authentication payload',
  0x07: 'no matching integrity payload',
  0x08: 'inactive session ID',
  0x09: 'invalid role',
  0x0a: 'unauthorized role or privilege level requested',
  0x0b: 'insufficient resources to create a session at the requested role',
  0x0c: 'invalid name length',
  0x0d: 'unauthorized name',
  0x0e: 'unauthorized GUID',
  0x0f: 'invalid integrity check value',
  0x10: 'invalid confidentiality algorithm',
  0x11: 'no cipher suite match with proposed security algorithms',
  0x12: 'illegal or unrecognized parameter',
};

/** RMCP+ status codes that mean "wrong credentials or role" rather than a protocol fault. */
export const AUTH_STATUS_CODES: ReadonlySet<number> = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x0e, 0x0f]);

/** Human text for a completion code. */
export function completionText(cc: number): string {
  return `0x${cc.toString(16).padStart(2, '0')} (${COMPLETION_CODES[cc] ?? (cc >= 0x01 && cc <= 0x7e ? 'OEM code' : 'command-specific code')})`;
}

/** Human text for an RMCP+ status code. */
export function rmcpStatusText(s: number): string {
  return `0x${s.toString(16).padStart(2, '0')} (${RMCP_STATUS[s] ?? 'unknown status'})`;
}
