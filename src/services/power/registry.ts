/**
 * The power driver registry: one explicit table of driver name -> factory.
 * Adding a driver means adding a line here (and a file next to it).
 */
import { CrowbarError } from '../../lib/errors.js';
import type { CommandRunner } from '../../lib/command.js';
import type { Logger } from '../../lib/logger.js';
import type { UdpSocketFactory } from '../../ipmi/transport.js';
import type { Config } from '../../config/schema.js';
import { ipmiDriver } from './ipmi-driver.js';
import { ipmitoolDriver } from './ipmitool-driver.js';
import { manualDriver } from './manual-driver.js';
import type { PowerDriver } from './types.js';

/** What driver factories may use. */
export interface DriverDeps {
  config: Readonly<Config['services']['power']>;
  sockets: UdpSocketFactory;
  run: CommandRunner;
  log: Logger;
}

/** The table of drivers. */
export const POWER_DRIVERS: Readonly<Record<string, (d: DriverDeps) => PowerDriver>> = {
  ipmi: (d) => {
    const cs = d.config.ipmi.cipher_suite;
    if (cs !== 3 && cs !== 17) throw new CrowbarError('config.invalid', `config: services.power.ipmi.cipher_suite: ${cs} is not supported (3 or 17)`);
    return ipmiDriver({ sockets: d.sockets, cipherSuite: cs, timeoutMs: d.config.ipmi.timeout_ms, retries: d.config.ipmi.retries, log: d.log.child({ driver: 'ipmi' }) });
  },
  ipmitool: (d) => ipmitoolDriver({ run: d.run, path: d.config.ipmitool.path, cipherSuite: d.config.ipmitool.cipher_suite, timeoutMs: d.config.ipmitool.timeout_ms }),
  manual: () => manualDriver(),
};

/** Instantiated drivers by name. */
export class DriverRegistry {
  private readonly drivers = new Map<string, PowerDriver>();

  constructor(deps: DriverDeps, table: Readonly<Record<string, (d: DriverDeps) => PowerDriver>> = POWER_DRIVERS) {
    for (const [name, make] of Object.entries(table)) this.drivers.set(name, make(deps));
  }

  /** The driver called `name`; `driver.unknown` otherwise. */
  get(name: string): PowerDriver {
    const d = this.drivers.get(name);
    if (!d) throw new CrowbarError('driver.unknown', `unknown power driver ${JSON.stringify(name)} (known: ${[...this.drivers.keys()].join(', ')})`);
    return d;
  }

  /** All drivers (for the API listing). */
  list(): PowerDriver[] {
    return [...this.drivers.values()];
  }
}
