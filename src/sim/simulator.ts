/**
 * Virtual racks: N simulated machines in R racks against a running
 * appliance, in this one process (event-loop concurrency, no process per
 * machine). Each rack has a DHCP relay (giaddr); each machine has a BMC on
 * its own loopback address. Machines power on at a bounded rate, faults are
 * assigned deterministically from the seed, the operator (auto-allocate)
 * moves discovered nodes on, and the run ends when every machine has an
 * outcome or the deadline passes. Bounded in count (65536 machines, 100
 * racks) and time.
 */
import { createHash } from 'node:crypto';
import { CrowbarError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { SimBmc } from './bmc.js';
import { BmcEndpoint, type UdpFactory } from './bmc-endpoint.js';
import type { SimHttp } from './http-client.js';
import { machineIdentity } from './inventory.js';
import { SimMachine, type Fault, type Outcome } from './machine.js';
import { Allocator, apiCaller, type ApiCall } from './operator.js';
import { DhcpRelay } from './relay.js';
import { PhaseLog, type Percentiles } from './stats.js';

/** Largest simulation. */
export const MAX_NODES = 65536;
/** Most racks (relay addresses 127.0.0.10 .. 127.0.0.109). */
export const MAX_RACKS = 100;

/** Share of machines per fault (0..1 each; the rest are healthy). */
export type FaultShares = Partial<Record<Exclude<Fault, 'none'>, number>>;

/** What to simulate and where the appliance is. */
export interface SimulateOptions {
  nodes: number;
  racks: number;
  seed: string;
  /** Appliance base URL (http://127.0.0.1:8080). */
  apiUrl: string;
  /** Operator API token. */
  apiToken: string;
  /** Appliance DHCP address and port (relays send there and listen on the same port). */
  dhcp: { host: string; port: number };
  tftpPort: number;
  /** UDP port of every simulated BMC (623, or a high port when not root). */
  bmcPort: number;
  /** Relay addresses: `<relayPrefix>.<10 + rack>` (must be inside the admin subnet). */
  relayPrefix: string;
  /** Factory BMC addresses: `127.<bmcFactoryOctet + rack>.x.y` (default 100). */
  bmcFactoryOctet: number;
  /** Loopback subnet the operator gives the `bmc` network (configureBmcNetwork), e.g. 127.64.0.0/16. */
  bmcNetwork?: string;
  faults: FaultShares;
  /** Share of datagrams a lossy machine loses. */
  lossShare: number;
  installMs: number;
  pollMs: number;
  tftpBytes: number;
  imageBytes: number;
  /** Operator allocates discovered nodes. */
  autoAllocate: boolean;
  /** Machines powered on per second (0: all at once). */
  powerOnPerSecond: number;
  deadlineMs: number;
  timeoutMs: number;
}

/** Injected I/O. */
export interface SimulateDeps {
  udp: UdpFactory;
  /** Sockets of the rack relays (with SO_REUSEADDR when the appliance binds 0.0.0.0 on the same port); `udp` when absent. */
  relayUdp?: UdpFactory;
  http: SimHttp;
  random: () => number;
  randomBytes: (n: number) => Buffer;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: Logger;
}

/** One machine in the report. */
export interface MachineReport {
  index: number;
  mac: string;
  node: string | null;
  rack: number;
  fault: Fault;
  outcome: Outcome;
  reason: string;
  bmc: string;
  boots: number;
  errors: string[];
}

/** The result of a run. */
export interface SimulationReport {
  nodes: number;
  racks: number;
  elapsedMs: number;
  outcomes: Record<Outcome, number>;
  /** Machines that reached ready per minute (first power-on to last ready). */
  machinesPerMinute: number;
  phases: Record<string, Percentiles>;
  faults: Record<Fault, number>;
  allocated: number;
  allocationFailures: Array<{ node: string; error: string }>;
  bmcSessions: number;
  runlistFallbacks: number;
  /** Requests refused as busy (503 + Retry-After) and repeated. */
  busyRetries: number;
  strayDhcp: number;
  machines: MachineReport[];
}

function seeded(seed: string): () => number {
  let s = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fault of each machine: `round(share * n)` machines per fault, spread by a seeded shuffle. */
export function assignFaults(n: number, shares: FaultShares, seed: string): Fault[] {
  const out: Fault[] = Array.from({ length: n }, () => 'none');
  const order = Array.from({ length: n }, (_, i) => i);
  const rnd = seeded(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  let k = 0;
  for (const [f, share] of Object.entries(shares) as Array<[Exclude<Fault, 'none'>, number]>) {
    const count = Math.round((share ?? 0) * n);
    for (let c = 0; c < count && k < n; c++) out[order[k++]] = f;
  }
  return out;
}

/** Factory BMC address of the `k`-th machine of `rack` (second octet `base + rack`). */
export function factoryBmcAddress(base: number, rack: number, k: number): string {
  return `127.${base + rack}.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`;
}

/** A prepared simulation. */
export class Simulation {
  readonly machines: SimMachine[] = [];
  readonly relays: DhcpRelay[] = [];
  readonly phases = new PhaseLog();
  readonly api: ApiCall;
  private readonly allocator: Allocator;
  private started = 0;

  constructor(
    private readonly o: SimulateOptions,
    private readonly d: SimulateDeps,
  ) {
    if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES) throw new CrowbarError('bad_request', `--nodes must be 1..${MAX_NODES}`);
    if (!Number.isInteger(o.racks) || o.racks < 1 || o.racks > MAX_RACKS) throw new CrowbarError('bad_request', `--racks must be 1..${MAX_RACKS}`);
    if (o.bmcFactoryOctet < 1 || o.bmcFactoryOctet + o.racks > 255) throw new CrowbarError('bad_request', 'factory BMC octet + racks must stay within 1..255');
    if (Math.ceil(o.nodes / o.racks) > 250 * 254) throw new CrowbarError('bad_request', 'too many machines per rack');
    this.api = apiCaller(d.http, o.apiUrl, o.apiToken, o.timeoutMs);
    this.allocator = new Allocator(this.api, 8);
  }

  /** Bind relays and BMCs (nothing is sent yet). */
  async prepare(): Promise<void> {
    for (let r = 0; r < this.o.racks; r++) {
      const relay = new DhcpRelay(`${this.o.relayPrefix}.${10 + r}`, this.o.dhcp, this.d.relayUdp ?? this.d.udp);
      await relay.start();
      this.relays.push(relay);
    }
    const faults = assignFaults(this.o.nodes, this.o.faults, this.o.seed);
    const ctx = {
      seed: this.o.seed,
      apiUrl: this.o.apiUrl,
      apiToken: this.o.apiToken,
      tftpPort: this.o.tftpPort,
      http: this.d.http,
      udp: this.d.udp,
      tftpBytes: this.o.tftpBytes,
      imageBytes: this.o.imageBytes,
      installMs: this.o.installMs,
      pollMs: this.o.pollMs,
      lossShare: this.o.lossShare,
      timeoutMs: this.o.timeoutMs,
      random: this.d.random,
      now: this.d.now,
      sleep: this.d.sleep,
      onWaiting: (node: string) => {
        if (this.o.autoAllocate) this.allocator.allocate(node);
      },
      mark: (m: SimMachine, phase: string) => this.phases.mark(m.id.index, phase, this.d.now()),
    };
    for (let i = 0; i < this.o.nodes; i++) {
      const rack = i % this.o.racks;
      const k = Math.floor(i / this.o.racks);
      const id = machineIdentity(this.o.seed, i);
      const fault = faults[i];
      let machine: SimMachine | null = null;
      const bmc = new SimBmc({
        guid: id.uuid,
        mac: Buffer.from(id.bmcMac.replace(/:/g, ''), 'hex'),
        ip: factoryBmcAddress(this.o.bmcFactoryOctet, rack, k),
        users: { 2: { name: 'admin', password: 'admin', enabled: true, privilege: 4 } },
        powerOn: false,
        random: this.d.randomBytes,
        now: this.d.now,
        maxSessions: 4,
        events: { chassis: (a) => machine?.chassis(a), addressChanged: () => {} },
      });
      const ep = new BmcEndpoint(bmc, this.d.udp, this.o.bmcPort, fault === 'lossy' ? this.o.lossShare : fault === 'silent' ? 1 : 0, this.d.random);
      await ep.listen(bmc.lan.ip);
      machine = new SimMachine(id, rack, fault, bmc, ep, this.relays[rack], ctx);
      this.machines.push(machine);
    }
  }

  /** Power everything on at the configured rate and wait for outcomes (or the deadline). */
  async run(): Promise<SimulationReport> {
    this.started = this.d.now();
    const deadline = this.started + this.o.deadlineMs;
    const gap = this.o.powerOnPerSecond > 0 ? 1000 / this.o.powerOnPerSecond : 0;
    const all = Promise.all(this.machines.map((m) => m.settled()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - this.d.now()))));
    const powering = (async () => {
      for (let i = 0; i < this.machines.length; i++) {
        this.machines[i].powerOn();
        if (gap && i + 1 < this.machines.length) {
          const due = this.started + (i + 1) * gap;
          const wait = due - this.d.now();
          if (wait > 0) await this.d.sleep(wait);
        }
      }
    })();
    await Promise.race([all, timeout]);
    clearTimeout(timer);
    await Promise.race([powering, Promise.resolve()]);
    return this.report();
  }

  /** Outcomes and timings so far. */
  report(): SimulationReport {
    const outcomes: Record<Outcome, number> = { running: 0, ready: 0, problem: 0, silent: 0, error: 0, off: 0 };
    const faults: Record<Fault, number> = { none: 0, silent: 0, lossy: 0, 'fail-hardware': 0, 'fail-install': 0, 'reboot-install': 0 };
    let lastReady = 0;
    for (const m of this.machines) {
      outcomes[m.outcome]++;
      faults[m.fault]++;
      const t = this.phases.at(m.id.index, 'ready');
      if (t !== undefined && t > lastReady) lastReady = t;
    }
    const minutes = (lastReady - this.started) / 60_000;
    return {
      nodes: this.o.nodes,
      racks: this.o.racks,
      elapsedMs: this.d.now() - this.started,
      outcomes,
      machinesPerMinute: minutes > 0 ? Math.round((outcomes.ready / minutes) * 10) / 10 : 0,
      phases: this.phases.summary(),
      faults,
      allocated: this.allocator.done,
      allocationFailures: this.allocator.failures,
      bmcSessions: this.machines.reduce((a, m) => a + m.bmc.counters.sessions, 0),
      runlistFallbacks: this.machines.reduce((a, m) => a + m.runlistFallbacks, 0),
      busyRetries: this.machines.reduce((a, m) => a + m.busyRetries, 0),
      strayDhcp: this.relays.reduce((a, r) => a + r.stray, 0),
      machines: this.machines.map((m) => ({
        index: m.id.index,
        mac: m.id.mac,
        node: m.node,
        rack: m.rack,
        fault: m.fault,
        outcome: m.outcome,
        reason: m.reason,
        bmc: m.endpoint.address,
        boots: m.boots,
        errors: m.errors.slice(0, 5),
      })),
    };
  }

  /** Close every socket (machines stop answering). */
  async stop(): Promise<void> {
    for (const m of this.machines) {
      m.powerOff();
      await m.endpoint.close();
    }
    for (const r of this.relays) await r.stop();
  }
}
