/**
 * A real BMC simulator for tests: OpenIPMI's `ipmi_sim` started in a network
 * namespace the test created, with a lan.conf and emulator file written here
 * and a chassis_control script that keeps the power state and boot device in
 * files (no VM needed). Users: 2 = admin/<password> (administrator),
 * 3 = operator/<password> (operator).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NetnsPair } from './netns.js';

/** A running ipmi_sim. */
export interface IpmiSim {
  dir: string;
  host: string;
  port: number;
  user: string;
  password: string;
  proc: ChildProcess;
  /** Current power state as the chassis script keeps it. */
  power(): 0 | 1;
  /** Lines the chassis script was called with. */
  chassisLog(): string[];
  /** Output of ipmi_sim. */
  output(): string;
  stop(): void;
}

const CHASSIS = `#!/bin/sh
# chassis_control for ipmi_sim: state in files under $1 (see lanserv/README.ipmi_sim / ipmi_sim_chassiscontrol)
d=$1; op=$2; shift 2
echo "$op $*" >> "$d/chassis.log"
case "$op" in
  get)
    for p in "$@"; do
      case "$p" in
        power) echo "power:$(cat "$d/power" 2>/dev/null || echo 0)" ;;
        boot) echo "boot:$(cat "$d/boot" 2>/dev/null || echo none)" ;;
        *) echo "bad parm $p"; exit 1 ;;
      esac
    done ;;
  set)
    while [ $# -gt 1 ]; do
      p=$1; v=$2; shift 2
      case "$p" in
        power) echo "$v" > "$d/power" ;;
        reset) : ;;
        shutdown) echo 0 > "$d/power" ;;
        boot) echo "$v" > "$d/boot" ;;
        identify) : ;;
        *) echo "bad parm $p"; exit 1 ;;
      esac
    done ;;
  check) exit 1 ;;
  *) echo "bad op $op"; exit 1 ;;
esac
exit 0
`;

/** Start ipmi_sim on `host:port` inside namespace `ns` of `pair`. */
export async function startIpmiSim(
  pair: NetnsPair,
  ns: string,
  host: string,
  o: { port?: number; password?: string; power?: 0 | 1; /** in-band KCS link for qemu's ipmi-bmc-extern on 127.0.0.1:<port> */ vmPort?: number } = {},
): Promise<IpmiSim> {
  const dir = mkdtempSync(join(tmpdir(), 'crowbar-ipmisim-'));
  const port = o.port ?? 623;
  const password = o.password ?? 'sim-Secret-42';
  mkdirSync(join(dir, 'state'));
  writeFileSync(join(dir, 'power'), `${o.power ?? 0}\n`);
  const script = join(dir, 'chassis.sh');
  writeFileSync(script, CHASSIS);
  chmodSync(script, 0o755);
  writeFileSync(
    join(dir, 'lan.conf'),
    [
      'name "crowbar-test"',
      'set_working_mc 0x20',
      '  startlan 1',
      `    addr ${host} ${port}`,
      '    priv_limit admin',
      ...['callback', 'user', 'operator', 'admin'].map((p) => `    allowed_auths_${p} none md2 md5 straight`),
      '    guid a123456789abcdefa123456789abcdef',
      '  endlan',
      ...(o.vmPort ? [`  serial 15 127.0.0.1 ${o.vmPort} codec VM`] : []),
      `  chassis_control "${script} ${dir}"`,
      '  user 1 true "" "" user 10 none md2 md5 straight',
      `  user 2 true "admin" "${password}" admin 10 none md2 md5 straight`,
      `  user 3 true "operator" "${password}" operator 10 none md2 md5 straight`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'bmc.emu'),
    ['mc_setbmc 0x20', 'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr', 'sel_enable 0x20 1000 0x0a', 'mc_enable 0x20', ''].join('\n'),
  );
  const proc = pair.spawn(ns, ['ipmi_sim', '-n', '-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'state')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  // Wait until the UDP port is bound inside the namespace.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`ipmi_sim exited: ${out}`);
    const ss = pair.exec(ns, ['ss', '-lun']);
    if (ss.includes(`${host}:${port}`)) break;
    if (Date.now() > deadline) throw new Error(`ipmi_sim did not bind ${host}:${port}: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    host,
    port,
    user: 'admin',
    password,
    proc,
    power: () => (readFileSync(join(dir, 'power'), 'utf8').trim() === '1' ? 1 : 0),
    chassisLog: () => (existsSync(join(dir, 'chassis.log')) ? readFileSync(join(dir, 'chassis.log'), 'utf8').trim().split('\n') : []),
    output: () => out,
    stop() {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
