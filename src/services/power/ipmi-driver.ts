/**
 * The `ipmi` power driver: Crowbar's own RMCP+ client (src/ipmi), one
 * session per operation, Administrator privilege.
 */
import { IpmiSession, type IpmiClientOptions } from '../../ipmi/client.js';
import { chassisControl, chassisIdentify, getChassisStatus, setBootDevice } from '../../ipmi/commands.js';
import type { PowerDriver } from './types.js';

/** Settings of the ipmi driver. */
export interface IpmiDriverOptions extends IpmiClientOptions {
  cipherSuite: 3 | 17;
}

/** Create the ipmi driver. */
export function ipmiDriver(o: IpmiDriverOptions): PowerDriver {
  return {
    name: 'ipmi',
    description: "Crowbar's built-in IPMI v2.0 RMCP+ (lanplus) client",
    canControl: true,
    needsBmc: true,
    settings: [
      { name: 'address', description: 'BMC address (host or host:port, port 623 by default)', secret: false, source: 'node' },
      { name: 'user', description: 'BMC user name', secret: false, source: 'node' },
      { name: 'password', description: 'BMC password (encrypted at rest, write-only)', secret: true, source: 'node' },
      { name: 'cipher_suite', description: 'RMCP+ cipher suite: 3 (HMAC-SHA1, AES-128) or 17 (HMAC-SHA256, AES-128)', secret: false, source: 'config' },
      { name: 'timeout_ms', description: 'wait per reply before retransmitting', secret: false, source: 'config' },
      { name: 'retries', description: 'retransmissions per request', secret: false, source: 'config' },
    ],
    async connect(t) {
      const s = await IpmiSession.open({ host: t.host, port: t.port, user: t.user, password: t.password, cipherSuite: o.cipherSuite }, o);
      return {
        status: async () => ((await getChassisStatus(s)).powerOn ? 'on' : 'off'),
        control: (a) => chassisControl(s, a),
        identify: (sec) => chassisIdentify(s, sec),
        setBootDevice: (b) => setBootDevice(s, b),
        close: () => s.close(),
      };
    },
  };
}
