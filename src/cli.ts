/**
 * The `crowbar` command. `crowbar serve --config FILE` runs the admin-node
 * process; other subcommands talk to a running appliance over its REST API.
 */
import { buildConfig, loadConfigFile } from './config/load.js';
import { errorMessage, isCrowbarError } from './lib/errors.js';
import { createSkeleton } from './barclamps/skeleton.js';
import { barclampCommand } from './cli/barclamp.js';
import { ApiError, parseGlobalArgs, resolveClient } from './cli/client.js';
import { proposalCommand } from './cli/proposal.js';
import { POWER_USAGE, powerVerb } from './cli/power.js';
import { OS_USAGE, osVerb } from './cli/os.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSimulateArgs } from './sim/args.js';
import { formatReport } from './sim/format.js';

const USAGE = `usage: crowbar <command> [options]

commands:
  serve [--config FILE]   run the appliance (default config: loopback, ./var/crowbar)
  machines <verb> ...     nodes over the REST API: list|show|allocate|reboot|poweron|
                          shutdown|identify|reinstall|reset|delete (crowbar machines help)
  barclamp list|show NAME
  barclamp create NAME [company] [dir]     write a new barclamp skeleton
  barclamp install PATH|ARCHIVE            install or upgrade (admin)
  barclamp uninstall NAME                  (admin)
  <barclamp> proposal list|create NAME|show NAME|edit NAME [--file F] [--set path=value]
             |diff NAME|commit NAME|status NAME|dequeue NAME|delete NAME
  simulate --nodes N [--racks R] ...      virtual racks against a running appliance
                          (crowbar simulate --help; docs/simulator.md)
  help                    this text

API options: --url URL (CROWBAR_URL), --token TOKEN (CROWBAR_TOKEN),
             --data-dir DIR (CROWBAR_DATA_DIR; reads DIR/admin.token), --config FILE
${POWER_USAGE}${OS_USAGE}`;

async function apiCommand(argv: string[]): Promise<number> {
  const g = parseGlobalArgs(argv);
  const [cmd, ...rest] = g.rest;
  const out = (t: string) => void process.stdout.write(t);
  if (cmd === 'barclamp' && rest[0] === 'create') {
    const [, name, company, dir] = rest;
    if (!name) throw new Error('usage: crowbar barclamp create NAME [company] [dir]');
    out(`created ${createSkeleton(name, company, dir)}\n`);
    return 0;
  }
  const client = resolveClient(g);
  if (cmd === 'barclamp') return barclampCommand(client, rest, out);
  if (rest[0] === 'proposal') return proposalCommand(client, cmd, rest.slice(1), out);
  process.stderr.write(`crowbar: unknown command ${cmd}\n${USAGE}`);
  return 2;
}

async function serve(args: string[]): Promise<number> {
  let configPath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config' || args[i] === '-c') configPath = args[++i];
    else if (args[i].startsWith('--config=')) configPath = args[i].slice('--config='.length);
    else {
      process.stderr.write(`crowbar serve: unknown argument ${args[i]}\n${USAGE}`);
      return 2;
    }
  }
  const config = configPath
    ? loadConfigFile(configPath)
    : buildConfig({
        data_dir: './var/crowbar',
        admin_network: { interface: 'lo', address: '127.0.0.1/8', domain: 'crowbar.test' },
        services: {
          dhcp: { enabled: false },
          tftp: { bind: '127.0.0.1', port: 6969 },
          dns: { bind: '127.0.0.1', port: 5353 },
          ntp: { bind: '127.0.0.1', port: 1123 },
          http: { bind: '127.0.0.1', port: 8080 },
        },
      });
  // The appliance (every service and its dependencies) loads only for `serve`: CLI verbs start in a fraction of the time.
  const { createAppliance, runAppliance } = await import('./main.js');
  const app = await createAppliance(config);
  if (app.initialAdminToken) {
    process.stdout.write(`admin API token (shown once, also in ${config.data_dir}/admin.token): ${app.initialAdminToken}\n`);
  }
  if (app.initialAdminPassword) {
    process.stdout.write(`console user admin, password (shown once, also in ${config.data_dir}/admin.password): ${app.initialAdminPassword}\n`);
  }
  const ac = new AbortController();
  const onSignal = (sig: string) => {
    app.log.info('signal received, stopping', { signal: sig });
    ac.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  await runAppliance(app, ac.signal);
  return 0;
}

/** `crowbar simulate`: virtual machines against a running loopback appliance. */
async function simulate(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write((await import('./sim/args.js')).SIMULATE_USAGE + '\n');
    return 0;
  }
  const a = parseSimulateArgs(args, process.env, randomBytes(4).toString('hex'));
  const token = a.options.apiToken ?? (a.dataDir ? readFileSync(join(a.dataDir, 'admin.token'), 'utf8').trim() : null);
  if (!token) throw new Error('an operator token is needed: --token, CROWBAR_TOKEN or --data-dir');
  const { startSimulation } = await import('./main.js');
  const sim = await startSimulation({ ...a.options, apiToken: token });
  const stopped = new Promise<void>((res) => {
    process.once('SIGINT', () => res());
    process.once('SIGTERM', () => res());
  });
  const report = await Promise.race([sim.run(), stopped.then(() => sim.report())]);
  process.stdout.write(a.json ? JSON.stringify(report) + '\n' : formatReport(report));
  if (a.keep) {
    process.stderr.write('machines and BMCs keep running; Ctrl-C to stop\n');
    await stopped;
  }
  await sim.stop();
  return report.outcomes.error > 0 || report.outcomes.running > 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return serve(rest);
    case 'machines':
      return (await import('./cli/machines.js')).machines(rest, { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s), tty: process.stderr.isTTY === true });
    case 'simulate':
      return simulate(rest);
    case 'power':
    case 'bootdev':
    case 'bmc':
      return powerVerb(cmd, rest, (s) => process.stdout.write(s));
    case 'os':
      return osVerb(rest, (s) => process.stdout.write(s));
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      if (argv.includes('barclamp') || argv.includes('proposal')) return apiCommand(argv);
      process.stderr.write(`crowbar: unknown command ${cmd}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`crowbar: ${isCrowbarError(e) || e instanceof ApiError ? '' : 'fatal: '}${errorMessage(e)}\n`);
    process.exit(1);
  },
);
