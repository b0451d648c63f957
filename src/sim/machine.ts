/**
 * One simulated server: firmware PXE (DHCP DORA through the rack relay, TFTP
 * of the loader chosen by option 93), iPXE (DHCP with user class iPXE, the
 * per-node script over HTTP, kernel/initrd up to a byte budget), then
 * whatever the boot group says: the discovery agent (register, poll
 * /agent/next, hardware-install with the in-band BMC, reboot), the OS
 * installer (installing -> simulated install time -> installed, reboot) or
 * the installed system's join (readying, run list, status report, ready).
 * Power follows its BMC's chassis commands; faults on demand. Every network
 * exchange is real; only the time spent inside Linux/installer is simulated.
 */
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { configureUser, setLanAddress } from '../ipmi/commands.js';
import { dora, type DhcpLease } from './dhcp-client.js';
import type { DhcpRelay } from './relay.js';
import { tftpRead } from './tftp-client.js';
import type { SimHttp, SimResponse } from './http-client.js';
import { inventoryOf, type MachineIdentity } from './inventory.js';
import type { SimBmc } from './bmc.js';
import type { BmcEndpoint, UdpFactory } from './bmc-endpoint.js';

/** Faults a machine can have. */
export type Fault = 'none' | 'silent' | 'lossy' | 'fail-hardware' | 'fail-install' | 'reboot-install';

/** How a machine's run ended. */
export type Outcome = 'running' | 'ready' | 'problem' | 'silent' | 'error' | 'off';

/** Shared settings and services of all machines of a run. */
export interface MachineContext {
  seed: string;
  apiUrl: string;
  /** Operator API token (allocation, run-list report when the node token is refused). */
  apiToken: string;
  tftpPort: number;
  http: SimHttp;
  udp: UdpFactory;
  /** Loader bytes read over TFTP (0: whole file). */
  tftpBytes: number;
  /** Kernel/initrd bytes read over HTTP, each (0: whole file). */
  imageBytes: number;
  /** Simulated OS install time. */
  installMs: number;
  /** Agent poll interval. */
  pollMs: number;
  /** Share of datagrams a lossy machine loses. */
  lossShare: number;
  timeoutMs: number;
  random: () => number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Called when the agent first waits (not allocated): the operator may allocate. */
  onWaiting: (node: string) => void;
  /** Phase timestamps. */
  mark: (m: SimMachine, phase: string) => void;
}

class Superseded extends Error {}

const KV = /^([A-Z_]+)=(.*)$/;
/** How long a power cycle keeps the chassis off. */
const CYCLE_OFF_MS = 3000;

/** One simulated machine. */
export class SimMachine {
  /** Chassis power. */
  powered = false;
  /** Node name and token once registered. */
  node: string | null = null;
  private token: string | null = null;
  /** Current DHCP address (the machine's source for HTTP). */
  address: string | null = null;
  outcome: Outcome = 'running';
  /** Why it ended in problem/error. */
  reason = '';
  /** Boots started (power-on, reboot, chassis cycle). */
  boots = 0;
  /** Boot groups of the scripts it got, in order. */
  readonly groups: string[] = [];
  /** Errors seen on the way (retried). */
  readonly errors: string[] = [];
  /** Requests the appliance refused as busy (503 + Retry-After) and this machine repeated. */
  busyRetries = 0;
  /** Times the node token was refused on a run-list route and the operator token was used. */
  runlistFallbacks = 0;
  private gen = 0;
  private waitedNoted = false;
  private installRebooted = false;
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly id: MachineIdentity,
    readonly rack: number,
    readonly fault: Fault,
    readonly bmc: SimBmc,
    readonly endpoint: BmcEndpoint,
    private readonly relay: DhcpRelay,
    private readonly ctx: MachineContext,
  ) {}

  /** Resolves when the outcome is no longer `running` (or at once). */
  settled(): Promise<void> {
    if (this.outcome !== 'running') return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private settle(o: Outcome, reason = ''): void {
    this.outcome = o;
    this.reason = reason;
    for (const w of this.waiters.splice(0)) w();
  }

  /** The BMC's chassis command: power follows it. */
  chassis(action: string): void {
    if (action === 'off' || action === 'soft') this.powerOff();
    else if (action === 'on') {
      if (!this.powered) this.powerOn();
    } else if (action === 'cycle') {
      // Off for a moment (the power service watches for the off phase), then on again.
      this.powered = false;
      this.bmc.powerOn = false;
      const gen = ++this.gen;
      void this.ctx.sleep(CYCLE_OFF_MS).then(() => {
        if (gen === this.gen) this.reset();
      });
    } else this.reset();
  }

  /** Press the power button. */
  powerOn(): void {
    if (this.fault === 'silent') {
      this.powered = true;
      this.settle('silent', 'never answers (dead NIC)');
      return;
    }
    this.powered = true;
    this.bmc.powerOn = true;
    this.start();
  }

  /** Cut power. */
  powerOff(): void {
    this.powered = false;
    this.bmc.powerOn = false;
    this.gen++;
    if (this.outcome === 'running') this.settle('off', 'powered off');
  }

  /** Reset (reboot) while on. */
  reset(): void {
    this.powered = true;
    this.bmc.powerOn = true;
    if (this.outcome === 'off' || this.outcome === 'ready') this.outcome = 'running';
    this.start();
  }

  private start(firmwareRetry = 0): void {
    const gen = ++this.gen;
    if (firmwareRetry === 0) this.boots++;
    this.ctx.mark(this, 'power-on');
    void this.boot(gen).catch(async (e) => {
      if (e instanceof Superseded) return;
      // A PXE ROM that gets no DHCP/TFTP answer retries the network boot a few times.
      if (firmwareRetry < 2 && gen === this.gen) {
        this.errors.push(`boot attempt ${firmwareRetry + 1}: ${errorMessage(e)}`);
        await this.ctx.sleep(2000);
        if (gen === this.gen) this.start(firmwareRetry + 1);
        return;
      }
      this.settle('error', errorMessage(e));
    });
  }

  private check(gen: number): void {
    if (gen !== this.gen) throw new Superseded();
  }

  private lose = () => this.fault === 'lossy' && this.ctx.random() < this.ctx.lossShare;

  private dhcp(ipxe: boolean): Promise<DhcpLease> {
    return dora(this.relay, { mac: this.id.mac, arch: this.id.firmware === 'uefi' ? 7 : 0, uuid: this.id.uuid, ipxe }, {
      timeoutMs: 1000,
      attempts: 6,
      lose: this.lose,
      xid: () => Math.floor(this.ctx.random() * 0xffffffff) >>> 0,
    });
  }

  private async http(method: string, path: string, o: { token?: string | null; json?: unknown; budget?: number; text?: string } = {}): Promise<SimResponse> {
    const url = path.startsWith('http') ? path : `${this.ctx.apiUrl}${path}`;
    const headers: Record<string, string> = {};
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    } else if (o.text !== undefined) {
      headers['content-type'] = 'text/plain';
      body = o.text;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.ctx.http.send({ method, url, local: this.address ?? '127.0.0.1', headers, body, budget: o.budget, timeoutMs: this.ctx.timeoutMs });
        const retryAfter = Number(r.headers['retry-after']);
        if (r.status === 503 && retryAfter > 0 && this.busyRetries < 10_000) {
          // The appliance is shedding polls (src/api/admission.ts): a real agent waits and asks again,
          // without counting it as a failure (the run's deadline bounds it).
          this.busyRetries++;
          await this.ctx.sleep(retryAfter * 1000);
          attempt--;
          continue;
        }
        if ((r.status === 429 || r.status >= 500) && attempt < 5) {
          await this.ctx.sleep(500 * (attempt + 1));
          continue;
        }
        return r;
      } catch (e) {
        if (attempt >= 3) throw e;
        this.errors.push(errorMessage(e));
        await this.ctx.sleep(300 * (attempt + 1));
      }
    }
  }

  private json(r: SimResponse, what: string): any {
    if (r.status < 200 || r.status >= 300) throw new CrowbarError('service.failed', `${what}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
    return JSON.parse(r.body.toString('utf8'));
  }

  private async transition(to: string, reason?: string): Promise<void> {
    const r = await this.http('POST', '/api/v1/agent/transition', { token: this.token, json: reason ? { to, reason } : { to } });
    if (r.status === 409) {
      // A retried POST whose first attempt did commit (its reply was lost to a timeout): the node is there already.
      const now = this.json(await this.http('GET', '/api/v1/agent/next', { token: this.token }), 'agent/next');
      if (now.state !== to) this.json(r, `transition to ${to}`);
    } else this.json(r, `transition to ${to}`);
    this.ctx.mark(this, to);
  }

  /** Firmware -> iPXE -> the script's group. */
  private async boot(gen: number): Promise<void> {
    // PXE ROM: DHCP, TFTP of the loader.
    const pxe = await this.dhcp(false);
    this.check(gen);
    this.address = pxe.address;
    this.ctx.mark(this, 'dhcp');
    const want = this.id.firmware === 'uefi' ? /\.efi$/ : /^undionly\.kpxe$/;
    if (!want.test(pxe.file)) throw new CrowbarError('service.failed', `PXE: boot file ${JSON.stringify(pxe.file)} does not fit ${this.id.firmware}`);
    await tftpRead(this.ctx.udp, { local: pxe.address, server: pxe.nextServer, port: this.ctx.tftpPort, file: pxe.file, blksize: 1432, budget: this.ctx.tftpBytes, timeoutMs: 1000, attempts: 6, lose: this.lose });
    this.check(gen);
    this.ctx.mark(this, 'tftp');
    // iPXE: DHCP again with user class iPXE, then the per-node script.
    const ipxe = await this.dhcp(true);
    this.check(gen);
    this.address = ipxe.address;
    if (!/\/boot\/node\/[0-9a-f-]+\.ipxe$/.test(ipxe.file)) throw new CrowbarError('service.failed', `iPXE: boot file ${JSON.stringify(ipxe.file)} is not a node script URL`);
    const sr = await this.http('GET', ipxe.file);
    this.check(gen);
    if (sr.status !== 200) throw new CrowbarError('service.failed', `iPXE script: HTTP ${sr.status}`);
    const script = sr.body.toString('utf8');
    const group = String(sr.headers['x-crowbar-boot-group'] ?? '');
    this.groups.push(group);
    this.ctx.mark(this, 'script');
    const kernel = /^kernel\s+(\S+)/m.exec(script)?.[1];
    const initrd = /^initrd\s+(?:--name\s+\S+\s+)?(\S+)/m.exec(script)?.[1];
    for (const u of [kernel, initrd]) {
      if (!u) continue;
      const r = await this.http('GET', u, { budget: this.ctx.imageBytes });
      this.check(gen);
      if (r.status !== 200) throw new CrowbarError('service.failed', `iPXE: ${u}: HTTP ${r.status}`);
    }
    if (kernel) this.ctx.mark(this, 'image');
    switch (group) {
      case 'discovery':
      case 'hardware-install':
        if (!kernel) throw new CrowbarError('service.failed', `the ${group} script boots no kernel`);
        return this.discoveryAgent(gen);
      case 'os-install':
        return this.installer(gen, Boolean(kernel));
      case 'local':
        if (!/sanboot|exit/.test(script)) throw new CrowbarError('service.failed', 'the local script neither sanboots nor exits');
        return this.join(gen);
      case 'none':
        this.powerOff();
        return;
      default:
        throw new CrowbarError('service.failed', `unknown boot group ${JSON.stringify(group)}`);
    }
  }

  private async register(): Promise<void> {
    const inventory = inventoryOf(this.ctx.seed, this.id, this.endpoint.address);
    const r = await this.http('POST', '/api/v1/discovery', { json: { mac: this.id.mac, inventory } });
    const b = this.json(r, 'registration');
    this.node = b.node;
    this.token = b.token;
    this.ctx.mark(this, 'registered');
  }

  /** The discovery image's agent. */
  private async discoveryAgent(gen: number): Promise<void> {
    // Linux's own DHCP (udhcpc) before the agent talks to the appliance.
    this.address = (await this.dhcp(false)).address;
    this.check(gen);
    await this.register();
    for (;;) {
      this.check(gen);
      const r = await this.http('GET', '/api/v1/agent/next', { token: this.token });
      if (r.status === 401) {
        await this.register();
        continue;
      }
      const next = this.json(r, 'agent/next');
      switch (next.action) {
        case 'wait':
          if (!this.waitedNoted && next.state === 'discovered') {
            this.waitedNoted = true;
            this.ctx.onWaiting(this.node!);
          }
          await this.ctx.sleep(this.ctx.pollMs);
          continue;
        case 'hardware-install':
          this.ctx.mark(this, 'allocated');
          if (next.state !== next.begin) await this.transition(next.begin);
          this.check(gen);
          if (this.fault === 'fail-hardware') {
            await this.transition('problem', 'hardware-install failed (status 1): simulated BMC step failure: Set User Password: completion code 0xcc');
            return this.settle('problem', 'fail-hardware');
          }
          await this.hardwareInstall();
          this.check(gen);
          await this.transition(next.end);
          continue;
        case 'reboot':
          this.ctx.mark(this, 'reboot');
          return this.reset();
        case 'poweroff':
          return this.powerOff();
        default:
          throw new CrowbarError('service.failed', `agent/next: unknown action ${JSON.stringify(next.action)}`);
      }
    }
  }

  /** Fetch the instruction and program the BMC in-band, as hardware-install.sh does with ipmitool. */
  private async hardwareInstall(): Promise<void> {
    const r = await this.http('GET', '/api/v1/agent/hardware-install', { token: this.token });
    if (r.status !== 200) throw new CrowbarError('service.failed', `hardware-install instruction: HTTP ${r.status}`);
    const kv: Record<string, string> = {};
    for (const line of r.body.toString('utf8').split('\n')) {
      const m = KV.exec(line);
      if (m) kv[m[1]] = m[2];
    }
    const kcs = this.bmc.inBand();
    const channel = Number(kv.BMC_CHANNEL ?? 1);
    await configureUser(kcs, { channel, userId: Number(kv.BMC_USER_ID ?? 3), name: kv.BMC_USER, password: kv.BMC_PASSWORD });
    if (kv.BMC_IP) {
      await setLanAddress(kcs, channel, { ip: kv.BMC_IP, netmask: kv.BMC_NETMASK, gateway: kv.BMC_GATEWAY, vlan: kv.BMC_VLAN && kv.BMC_VLAN !== 'off' ? Number(kv.BMC_VLAN) : null });
      // The BMC answers on its new address from now on (a real BMC moves). Where that address
      // cannot be local (a bmc network outside 127/8, e.g. next to real VMs), it stays where it was.
      const old = this.endpoint.address;
      try {
        await this.endpoint.listen(kv.BMC_IP);
      } catch (e) {
        this.errors.push(`BMC cannot move to ${kv.BMC_IP} (${errorMessage(e)}); it keeps answering on ${old}`);
        await this.endpoint.listen(old);
      }
    }
    this.ctx.mark(this, 'bmc-configured');
  }

  /** The OS installer (simulated install time). */
  private async installer(gen: number, hasKernel: boolean): Promise<void> {
    if (!hasKernel) this.errors.push('os-install script has no installer kernel (no OS install source): simulating the installer');
    this.address = (await this.dhcp(false)).address;
    this.check(gen);
    const st = this.json(await this.http('GET', '/api/v1/agent/next', { token: this.token }), 'agent/next');
    if (st.state === 'installing') {
      // The installer starts over: the previous attempt was cut by a reboot.
      await this.transition('problem', 'installer restarted: the machine rebooted during the OS install');
      return this.settle('problem', 'reboot-install');
    }
    await this.transition('installing');
    if (this.fault === 'fail-install') {
      await this.ctx.sleep(this.ctx.installMs / 2);
      await this.transition('problem', 'OS install failed: simulated installer error: partitioning /dev/sda failed (Input/output error)');
      return this.settle('problem', 'fail-install');
    }
    if (this.fault === 'reboot-install' && !this.installRebooted) {
      this.installRebooted = true;
      await this.ctx.sleep(this.ctx.installMs / 2);
      this.check(gen);
      this.ctx.mark(this, 'install-interrupted');
      return this.reset();
    }
    await this.ctx.sleep(this.ctx.installMs);
    this.check(gen);
    await this.transition('installed');
    return this.reset();
  }

  private async runlistCall(method: string, path: string, json?: unknown): Promise<SimResponse> {
    let r = await this.http(method, path, { token: this.token, json });
    if (r.status === 401 || r.status === 403) {
      this.runlistFallbacks++;
      r = await this.http(method, path, { token: this.ctx.apiToken, json });
    }
    return r;
  }

  /** crowbar-join on the installed system. */
  private async join(gen: number): Promise<void> {
    this.address = (await this.dhcp(false)).address;
    this.check(gen);
    await this.transition('readying');
    const rl = this.json(await this.runlistCall('GET', `/api/v1/nodes/${this.node}/runlist`), 'runlist');
    this.check(gen);
    const results = (rl.roles ?? []).map((e: { barclamp: string; proposal: string; role: string }) => ({ barclamp: e.barclamp, proposal: e.proposal, role: e.role, status: 'ready' }));
    this.json(await this.runlistCall('POST', `/api/v1/nodes/${this.node}/runlist/status`, { results }), 'runlist status');
    this.check(gen);
    await this.transition('ready');
    this.ctx.http.release(this.address);
    this.settle('ready');
  }

  /** Node name or MAC, for messages. */
  label(): string {
    return this.node ?? this.id.mac;
  }
}
