/**
 * The power service: desired-state power and boot-device operations on a
 * node's BMC through its driver (read the state, act, poll until the wanted
 * state is reached or a timeout), one session per BMC at a time with pacing,
 * bounded retries, and faults recorded per node (an unreachable BMC marks
 * only its node and publishes `node.power_fault`; nothing else waits).
 * Passwords are decrypted only for the duration of an operation and are
 * never logged or returned.
 */
import type { Clock } from '../../lib/clock.js';
import { CrowbarError, errorMessage, isCrowbarError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { service, type Service } from '../../lib/service.js';
import type { Node } from '../../model/node.js';
import type { Effect } from '../../state/lifecycle.js';
import type { NodeRepo } from '../../store/nodes.js';
import type { NodePower, PowerRepo, PowerRequest } from '../../store/power.js';
import type { EventBus } from '../events.js';
import { parseBmcAddress } from './address.js';
import { generateBmcPassword, type BmcSecretBox } from './credentials.js';
import { BmcLanes } from './lanes.js';
import type { DriverRegistry } from './registry.js';
import { renderHardwareInstall, type BiosSpec, type BmcNetwork, type RaidSpec } from './instruction.js';
import type { BmcTarget, BootRequest, ControlAction, PowerApiAction, PowerConnection, PowerDriver, PowerState } from './types.js';

/** Tunables of the power service (config.services.power). */
export interface PowerServiceOptions {
  pollIntervalMs: number;
  stateTimeoutMs: number;
  softTimeoutMs: number;
  paceMs: number;
  retries: number;
  recheckIntervalS: number;
  bmcUser: string;
  defaultDriver: string;
  /** How long identify lights the LED. */
  identifySeconds?: number;
}

/** Dependencies of the power service. */
export interface PowerServiceDeps {
  nodes: NodeRepo;
  power: PowerRepo;
  secrets: BmcSecretBox;
  drivers: DriverRegistry;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  opts: PowerServiceOptions;
  sleep?: (ms: number) => Promise<void>;
}

/** Outcome of a power operation. */
export interface PowerResult {
  node: string;
  action: PowerApiAction | 'bootdev';
  driver: string;
  /** Power state at the end (unknown for the manual driver). */
  state: PowerState;
  /** Whether the desired state was reached; null when the driver cannot tell (manual). */
  reached: boolean | null;
  detail?: string;
}

/** BMC settings sent by an operator. */
export interface BmcSettings {
  address?: string | null;
  user?: string;
  password?: string;
  driver?: string;
}

/** What the hardware-install agent needs to configure a node's BMC (contains the password). */
export interface BmcCredentials {
  user: string;
  password: string;
}

/** Errors that may succeed when the whole operation is tried again. */
function retryable(e: unknown): boolean {
  return isCrowbarError(e, 'bmc.unreachable') || isCrowbarError(e, 'bmc.protocol');
}

interface OpProgress {
  acted: boolean;
  sawOff: boolean;
  note?: string;
}

/** Power and boot-device control for nodes. */
export class PowerService {
  private readonly lanes: BmcLanes;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly d: PowerServiceDeps) {
    this.sleep = d.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.lanes = new BmcLanes(d.clock, d.opts.paceMs, 16, this.sleep);
  }

  /** Operations running right now (all BMCs). */
  get running(): number {
    return this.lanes.running;
  }

  /** The drivers, for listing. */
  drivers(): PowerDriver[] {
    return this.d.drivers.list();
  }

  /** Stored power information and the latest requests of a node. */
  info(node: Node): NodePower & { requests: PowerRequest[] } {
    return { ...this.d.power.get(node.id), requests: this.d.power.requests(node.id, 20) };
  }

  /**
   * Set a node's BMC address, user, driver and (write-only) password. Without
   * a password the stored one is kept; when none is stored one is generated
   * (hardware-install programs it into the BMC).
   */
  configureBmc(node: Node, b: BmcSettings): Node {
    const driverName = b.driver ?? (node.power_driver !== 'manual' ? node.power_driver : this.d.opts.defaultDriver);
    const driver = this.d.drivers.get(driverName);
    const address = b.address === undefined ? node.bmc_address : b.address;
    if (address) parseBmcAddress(address);
    if (driver.needsBmc && !address) throw new CrowbarError('bad_request', `driver ${driver.name} needs a BMC address`);
    const user = b.user ?? node.bmc_user ?? this.d.opts.bmcUser;
    if (!/^[\x21-\x7e]{1,16}$/.test(user)) throw new CrowbarError('bad_request', 'BMC user must be 1-16 printable ASCII characters');
    let enc: string | null = null;
    if (b.password !== undefined) {
      if (Buffer.byteLength(b.password) < 1 || Buffer.byteLength(b.password) > 20) throw new CrowbarError('bad_request', 'BMC password must be 1-20 bytes');
      enc = this.d.secrets.encrypt(node.id, b.password);
    } else if (!node.bmc_password_set) {
      enc = this.d.secrets.encrypt(node.id, generateBmcPassword());
    }
    this.d.nodes.setBmc(node.id, address ?? null, user, enc, driver.name, this.d.clock.now());
    this.d.log.info('BMC settings changed', { node: node.name, address, user, driver: driver.name, new_secret_stored: enc !== null });
    return this.d.nodes.get(node.id)!;
  }

  /**
   * Credentials for the hardware-install phase: the node's stored BMC user
   * and password, generated and stored (encrypted) on first use.
   */
  ensureCredentials(node: Node): BmcCredentials {
    const enc = this.d.nodes.bmcPasswordEnc(node.id);
    if (enc) return { user: node.bmc_user ?? this.d.opts.bmcUser, password: this.d.secrets.decrypt(node.id, enc) };
    const password = generateBmcPassword();
    this.d.nodes.setBmc(node.id, node.bmc_address, node.bmc_user ?? this.d.opts.bmcUser, this.d.secrets.encrypt(node.id, password), node.power_driver, this.d.clock.now());
    return { user: node.bmc_user ?? this.d.opts.bmcUser, password };
  }

  /**
   * The hardware-install instruction for a node (contains its BMC password,
   * generated on first use): BMC address from its bmc network allocation,
   * the appliance's BMC user, and the RAID plan. Also records the address
   * the BMC will have, so power control works once hardware-install is done.
   */
  hardwareInstallInstruction(node: Node, o: { channel: number; userId?: number; network?: BmcNetwork; raid?: RaidSpec; bios?: BiosSpec; bmc?: boolean }): string {
    if (o.bmc === false) return renderHardwareInstall({ channel: o.channel, userId: 0, user: '', password: '', raid: o.raid, bios: o.bios, bmc: false });
    const cred = this.ensureCredentials(node);
    if (o.network) this.d.nodes.setBmc(node.id, o.network.ip, cred.user, null, node.power_driver === 'manual' ? this.d.opts.defaultDriver : node.power_driver, this.d.clock.now());
    return renderHardwareInstall({ channel: o.channel, userId: o.userId ?? 3, user: cred.user, password: cred.password, network: o.network, raid: o.raid, bios: o.bios });
  }

  private target(node: Node, driver: PowerDriver): BmcTarget {
    if (!driver.needsBmc) return { host: '', port: 0, user: '', password: '' };
    const enc = this.d.nodes.bmcPasswordEnc(node.id);
    if (!node.bmc_address || !node.bmc_user || !enc)
      throw new CrowbarError('bad_request', `node ${node.name} has no BMC address and credentials (PUT /api/v1/nodes/${node.name}/bmc)`);
    const { host, port } = parseBmcAddress(node.bmc_address);
    return { host, port, user: node.bmc_user, password: this.d.secrets.decrypt(node.id, enc) };
  }

  /** Run `op` with a connection to the node's BMC: lane, pacing, retries, fault bookkeeping. */
  private async withBmc(node: Node, action: string, by: string, op: (c: PowerConnection, driver: PowerDriver) => Promise<PowerResult>): Promise<PowerResult> {
    const driver = this.d.drivers.get(node.power_driver);
    const t = this.target(node, driver);
    const key = driver.needsBmc ? `${t.host}:${t.port}` : `node:${node.id}`;
    const now = () => this.d.clock.now();
    let attempt = 0;
    for (;;) {
      try {
        const r = await this.lanes.run(key, async () => {
          const c = await driver.connect(t);
          try {
            return await op(c, driver);
          } finally {
            await c.close().catch(() => {});
          }
        });
        if (!driver.canControl) this.d.power.logRequest(node.id, action, driver.name, by, 'recorded', 'manual driver: an operator must do this', now());
        else {
          if (r.state !== 'unknown') this.d.power.setState(node.id, r.state, now());
          this.d.power.logRequest(node.id, action, driver.name, by, r.reached === false ? 'timeout' : 'done', r.detail ?? null, now());
        }
        return r;
      } catch (e) {
        if (retryable(e) && attempt < this.d.opts.retries) {
          attempt++;
          await this.sleep(this.d.opts.pollIntervalMs * attempt);
          continue;
        }
        const err = isCrowbarError(e) ? e : new CrowbarError('internal', errorMessage(e));
        this.d.power.logRequest(node.id, action, driver.name, by, 'failed', err.message, now());
        if (err.code.startsWith('bmc.')) {
          this.d.power.setFault(node.id, err.code, err.message, now());
          this.d.bus.publish({ type: 'node.power_fault', at: now(), data: { node: node.name, code: err.code, message: err.message, action } });
          this.d.log.warn('BMC operation failed', { node: node.name, bmc: node.bmc_address, action, code: err.code, error: err.message });
        }
        throw err;
      }
    }
  }

  private async poll(c: PowerConnection, want: 'on' | 'off', timeoutMs: number, p: OpProgress, needOff: boolean): Promise<{ state: PowerState; reached: boolean }> {
    const deadline = this.d.clock.now() + timeoutMs;
    let s: PowerState = 'unknown';
    for (;;) {
      await this.sleep(this.d.opts.pollIntervalMs);
      s = await c.status();
      if (s === 'off') p.sawOff = true;
      if (s === want && (!needOff || p.sawOff)) return { state: s, reached: true };
      if (this.d.clock.now() >= deadline) break;
    }
    // A power cycle whose off phase was shorter than the poll interval.
    if (needOff && s === want) {
      p.note = 'off phase not observed';
      return { state: s, reached: true };
    }
    return { state: s, reached: false };
  }

  /** Desired-state logic of one action over an open connection (p survives retries). */
  private async act(c: PowerConnection, driver: PowerDriver, action: PowerApiAction, p: OpProgress): Promise<{ state: PowerState; reached: boolean | null; detail?: string }> {
    if (!driver.canControl) {
      if (action !== 'status') await (action === 'identify' ? c.identify(15) : c.control(action));
      return { state: 'unknown', reached: null, detail: action === 'status' ? 'manual driver: power state unknown' : 'recorded for an operator (manual driver)' };
    }
    if (action === 'status') return { state: await c.status(), reached: true };
    if (action === 'identify') {
      await c.identify(this.d.opts.identifySeconds ?? 15);
      return { state: await c.status(), reached: true };
    }
    const before = p.acted ? null : await c.status();
    const send = async (a: ControlAction) => {
      await c.control(a);
      p.acted = true;
    };
    const T = this.d.opts.stateTimeoutMs;
    switch (action) {
      case 'on':
        if (before === 'on') return { state: 'on', reached: true, detail: 'already on' };
        if (!p.acted) await send('on');
        return this.poll(c, 'on', T, p, false);
      case 'off':
      case 'soft':
        if (before === 'off') return { state: 'off', reached: true, detail: 'already off' };
        if (!p.acted) await send(action);
        return this.poll(c, 'off', action === 'soft' ? this.d.opts.softTimeoutMs : T, p, false);
      case 'cycle':
      case 'reset': {
        // §28.3: cycle/reset of a machine that is off is not defined; power it on instead.
        if (before === 'off') {
          await send('on');
          const r = await this.poll(c, 'on', T, p, false);
          return { ...r, detail: 'was off: powered on' };
        }
        if (!p.acted) await send(action);
        const r = await this.poll(c, 'on', T, p, action === 'cycle');
        return { ...r, ...(p.note ? { detail: p.note } : {}) };
      }
    }
  }

  /** Perform a power action on a node (desired state; see docs/ipmi.md). */
  async power(node: Node, action: PowerApiAction, by: string): Promise<PowerResult> {
    const p: OpProgress = { acted: false, sawOff: false };
    return this.withBmc(node, action, by, async (c, driver) => {
      const r = await this.act(c, driver, action, p);
      return { node: node.name, action, driver: driver.name, ...r };
    });
  }

  /** Set the next boot device of a node. */
  async setBootDevice(node: Node, b: BootRequest, by: string): Promise<PowerResult> {
    return this.withBmc(node, `bootdev ${b.device}${b.persistent ? ' persistent' : ''}${b.efi ? ' efi' : ''}`, by, async (c, driver) => {
      await c.setBootDevice(b);
      return { node: node.name, action: 'bootdev', driver: driver.name, state: 'unknown', reached: driver.canControl ? true : null };
    });
  }

  /** Effect handler for 'power' and 'boot-device' (registered in main.ts). */
  readonly handleEffect = async (node: Node, effect: Effect): Promise<void> => {
    if (effect.type === 'power') {
      const r = await this.power(node, effect.action, 'lifecycle');
      if (r.reached === false) throw new CrowbarError('bmc.timeout', `node ${node.name}: power ${effect.action} not reached (state ${r.state})`);
    } else if (effect.type === 'boot-device') {
      await this.setBootDevice(node, { device: effect.device, persistent: effect.device === 'disk', efi: node.inventory.firmware === 'uefi' }, 'lifecycle');
    }
  };

  /** Re-read the power state of faulted nodes (bounded per round); clears faults that healed. */
  async recheckFaulted(limit = 50): Promise<number> {
    let healed = 0;
    const faulted = this.d.power.faulted().slice(0, limit);
    await Promise.all(
      faulted.map(async (f) => {
        const node = this.d.nodes.get(f.node_id);
        if (!node) return;
        try {
          await this.power(node, 'status', 'recheck');
          healed++;
        } catch {
          /* still faulted; recorded */
        }
      }),
    );
    return healed;
  }

  /** The background re-check of faulted BMCs as a Service. */
  service(): Service {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const every = this.d.opts.recheckIntervalS * 1000;
    const loop = () => {
      if (stopped || every <= 0) return;
      timer = setTimeout(() => {
        this.recheckFaulted()
          .catch((e) => this.d.log.warn('power recheck failed', { error: errorMessage(e) }))
          .finally(loop);
      }, every);
      timer.unref();
    };
    return service(
      'power',
      async () => {
        stopped = false;
        loop();
      },
      async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
      },
    );
  }
}
