/**
 * `crowbar simulate` arguments: parsed into SimulateOptions with the
 * documented defaults (docs/simulator.md). Pure: no I/O.
 */
import { CrowbarError } from '../lib/errors.js';
import type { FaultShares, SimulateOptions } from './simulator.js';

/** Usage text. */
export const SIMULATE_USAGE = `usage: crowbar simulate --nodes N [--racks R] [options]
  --url URL              appliance (CROWBAR_URL, default http://127.0.0.1:8080)
  --token TOKEN          operator API token (CROWBAR_TOKEN; or --data-dir DIR reads DIR/admin.token)
  --dhcp HOST:PORT       appliance DHCP (default 127.0.0.1:67); relays bind <relay-prefix>.<10+rack>:PORT
  --tftp-port PORT       appliance TFTP port (default 69)
  --bmc-port PORT        UDP port of every simulated BMC (default 623)
  --bmc-network CIDR     put the bmc network on this loopback subnet first (default 127.64.0.0/16; 'none' to skip)
  --bmc-octet N          factory BMC addresses 127.<N+rack>.x.y (default 100)
  --relay-prefix A.B.C   relay addresses A.B.C.<10+rack> inside the admin subnet (default 127.0.0)
  --faults LIST          shares, e.g. silent=0.02,lossy=0.05,fail-hardware=0.02,fail-install=0.02,reboot-install=0.02
  --loss SHARE           datagram loss of lossy machines (default 0.2)
  --install-seconds S    simulated OS install time (default 0)
  --poll-ms MS           agent poll interval (default 1000)
  --tftp-bytes N         loader bytes read over TFTP (default 16384; 0 = whole file)
  --image-bytes N        kernel/initrd bytes read over HTTP, each (default 65536; 0 = whole file)
  --rate N               machines powered on per second (default 50; 0 = all at once)
  --no-allocate          do not allocate discovered nodes (they wait in discovered)
  --deadline-seconds S   stop waiting after S seconds (default 900)
  --seed TEXT            identities and fault placement (default: random)
  --keep                 keep the machines and BMCs running after the report until Ctrl-C
  --json                 print the full report as JSON`;

/** Parsed command line. */
export interface SimulateArgs {
  options: Omit<SimulateOptions, 'apiToken'> & { apiToken: string | null };
  dataDir: string | null;
  json: boolean;
  keep: boolean;
}

const FAULTS = ['silent', 'lossy', 'fail-hardware', 'fail-install', 'reboot-install'] as const;

function num(v: string | undefined, flag: string, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new CrowbarError('bad_request', `${flag}: a number in ${min}..${max}`);
  return n;
}

/** Parse `argv` (after `simulate`); `env` supplies CROWBAR_URL / CROWBAR_TOKEN. */
export function parseSimulateArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, seed: string): SimulateArgs {
  const o: SimulateArgs['options'] = {
    nodes: 0,
    racks: 1,
    seed,
    apiUrl: env.CROWBAR_URL ?? 'http://127.0.0.1:8080',
    apiToken: env.CROWBAR_TOKEN ?? null,
    dhcp: { host: '127.0.0.1', port: 67 },
    tftpPort: 69,
    bmcPort: 623,
    relayPrefix: '127.0.0',
    bmcFactoryOctet: 100,
    bmcNetwork: '127.64.0.0/16',
    faults: {},
    lossShare: 0.2,
    installMs: 0,
    pollMs: 1000,
    tftpBytes: 16384,
    imageBytes: 65536,
    autoAllocate: true,
    powerOnPerSecond: 50,
    deadlineMs: 900_000,
    timeoutMs: 30_000,
  };
  let dataDir: string | null = env.CROWBAR_DATA_DIR ?? null;
  let json = false;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new CrowbarError('bad_request', `${a} needs a value`);
      return x;
    };
    switch (a) {
      case '--nodes': o.nodes = num(v(), a, 1, 65536); break;
      case '--racks': o.racks = num(v(), a, 1, 100); break;
      case '--url': o.apiUrl = v().replace(/\/+$/, ''); break;
      case '--token': o.apiToken = v(); break;
      case '--data-dir': dataDir = v(); break;
      case '--dhcp': {
        const m = /^([0-9.]+):(\d+)$/.exec(v());
        if (!m) throw new CrowbarError('bad_request', '--dhcp: HOST:PORT');
        o.dhcp = { host: m[1], port: num(m[2], a, 1, 65535) };
        break;
      }
      case '--tftp-port': o.tftpPort = num(v(), a, 1, 65535); break;
      case '--bmc-port': o.bmcPort = num(v(), a, 1, 65535); break;
      case '--bmc-network': { const x = v(); o.bmcNetwork = x === 'none' ? undefined : x; break; }
      case '--bmc-octet': o.bmcFactoryOctet = num(v(), a, 1, 254); break;
      case '--relay-prefix': {
        const x = v();
        if (!/^127\.\d{1,3}\.\d{1,3}$/.test(x)) throw new CrowbarError('bad_request', '--relay-prefix: 127.B.C (loopback only)');
        o.relayPrefix = x;
        break;
      }
      case '--faults': {
        const f: FaultShares = {};
        for (const part of v().split(',').filter(Boolean)) {
          const [k, s] = part.split('=');
          if (!(FAULTS as readonly string[]).includes(k)) throw new CrowbarError('bad_request', `--faults: unknown fault ${k} (${FAULTS.join(', ')})`);
          f[k as (typeof FAULTS)[number]] = num(s, `--faults ${k}`, 0, 1);
        }
        o.faults = f;
        break;
      }
      case '--loss': o.lossShare = num(v(), a, 0, 1); break;
      case '--install-seconds': o.installMs = num(v(), a, 0, 86400) * 1000; break;
      case '--poll-ms': o.pollMs = num(v(), a, 10, 600_000); break;
      case '--tftp-bytes': o.tftpBytes = num(v(), a, 0, 2 ** 31); break;
      case '--image-bytes': o.imageBytes = num(v(), a, 0, 2 ** 31); break;
      case '--rate': o.powerOnPerSecond = num(v(), a, 0, 100000); break;
      case '--no-allocate': o.autoAllocate = false; break;
      case '--auto-allocate': o.autoAllocate = true; break;
      case '--deadline-seconds': o.deadlineMs = num(v(), a, 1, 86400) * 1000; break;
      case '--seed': o.seed = v(); break;
      case '--json': json = true; break;
      case '--keep': keep = true; break;
      default:
        throw new CrowbarError('bad_request', `unknown argument ${a}\n${SIMULATE_USAGE}`);
    }
  }
  if (!o.nodes) throw new CrowbarError('bad_request', `--nodes is required\n${SIMULATE_USAGE}`);
  if (!/^http:\/\/127\.\d+\.\d+\.\d+(:\d+)?$/.test(o.apiUrl) || !/^127\./.test(o.dhcp.host)) throw new CrowbarError('bad_request', 'the simulator talks to loopback appliances only (--url http://127.x.y.z:PORT, --dhcp 127.x.y.z:PORT)');
  const sum = Object.values(o.faults).reduce((a, b) => a + (b ?? 0), 0);
  if (sum > 1) throw new CrowbarError('bad_request', '--faults: shares add up to more than 1');
  return { options: o, dataDir, json, keep };
}
