/**
 * The `ipmitool` power driver: wraps the ipmitool CLI, always
 * `-I lanplus -C <suite>` (without -C ipmitool spends ~10 s probing cipher
 * suites), `-v` (so failures say why) and `-E` with IPMI_PASSWORD in the environment, so the password
 * never appears in argv (ps, /proc/<pid>/cmdline).
 */
import { CrowbarError } from '../../lib/errors.js';
import type { CommandRunner } from '../../lib/command.js';
import type { BmcTarget, PowerDriver, PowerState } from './types.js';

/** Settings of the ipmitool driver. */
export interface IpmitoolDriverOptions {
  run: CommandRunner;
  path: string;
  cipherSuite: number;
  timeoutMs: number;
}

// With -v, ipmitool says why a session failed (its final line is the same for every cause).
const AUTH_HINTS = /RAKP 2 HMAC is invalid|unauthorized name|invalid user name|RAKP 2 message indicates an error|RAKP 4 message indicates an error|insufficient privilege/i;
const UNREACHABLE_HINTS = /Get Auth Capabilities error|No response from remote controller|Error issuing Get Channel Authentication|Insufficient resources/i;
const ERROR_LINE = /error|invalid|unable|RAKP|no response/i;

/** Build the argv (without the password) for one ipmitool call. */
export function ipmitoolArgs(t: BmcTarget, suite: number, args: readonly string[]): string[] {
  return ['-v', '-I', 'lanplus', '-C', String(suite), '-H', t.host, '-p', String(t.port), '-U', t.user, '-E', '-N', '1', '-R', '3', ...args];
}

/** Create the ipmitool driver. */
export function ipmitoolDriver(o: IpmitoolDriverOptions): PowerDriver {
  const call = async (t: BmcTarget, args: string[]): Promise<string> => {
    let r;
    try {
      r = await o.run(o.path, ipmitoolArgs(t, o.cipherSuite, args), { env: { IPMI_PASSWORD: t.password }, timeoutMs: o.timeoutMs });
    } catch (e) {
      throw new CrowbarError('service.failed', `cannot run ${o.path}: ${(e as Error).message}`);
    }
    if (r.timedOut) throw new CrowbarError('bmc.unreachable', `ipmitool ${args.join(' ')} timed out after ${o.timeoutMs} ms`);
    if (r.code !== 0) {
      const text = `${r.stderr}\n${r.stdout}`;
      const lines = text.split('\n').filter((l) => ERROR_LINE.test(l) && !/Invalid completion code received: Invalid command/.test(l));
      const msg = (lines.length ? lines : text.trim().split('\n')).slice(-3).join(' / ').slice(0, 300);
      const code = AUTH_HINTS.test(text) ? 'bmc.auth' : UNREACHABLE_HINTS.test(text) ? 'bmc.unreachable' : 'bmc.protocol';
      throw new CrowbarError(code, `ipmitool ${args.join(' ')} failed: ${msg}`);
    }
    return r.stdout;
  };
  return {
    name: 'ipmitool',
    description: 'the ipmitool CLI (lanplus), for BMCs that need its workarounds',
    canControl: true,
    needsBmc: true,
    settings: [
      { name: 'address', description: 'BMC address (host or host:port)', secret: false, source: 'node' },
      { name: 'user', description: 'BMC user name', secret: false, source: 'node' },
      { name: 'password', description: 'BMC password, passed as IPMI_PASSWORD with -E (never in argv)', secret: true, source: 'node' },
      { name: 'path', description: 'ipmitool binary', secret: false, source: 'config' },
      { name: 'cipher_suite', description: 'value of -C', secret: false, source: 'config' },
      { name: 'timeout_ms', description: 'kill ipmitool after this long', secret: false, source: 'config' },
    ],
    async connect(t) {
      return {
        async status(): Promise<PowerState> {
          const out = await call(t, ['chassis', 'power', 'status']);
          const m = /Chassis Power is (on|off)/i.exec(out);
          if (!m) throw new CrowbarError('bmc.protocol', `unexpected ipmitool output: ${out.trim().slice(0, 200)}`);
          return m[1].toLowerCase() as PowerState;
        },
        control: async (a) => {
          await call(t, ['chassis', 'power', a]);
        },
        identify: async (sec) => {
          await call(t, ['chassis', 'identify', String(Math.max(0, Math.min(255, Math.round(sec))))]);
        },
        setBootDevice: async (b) => {
          const opts = [b.persistent ? 'persistent' : '', b.efi ? 'efiboot' : ''].filter(Boolean);
          await call(t, ['chassis', 'bootdev', b.device, ...(opts.length ? [`options=${opts.join(',')}`] : [])]);
        },
        close: async () => {},
      };
    },
  };
}
