/**
 * The composition root: the only module that wires concrete defaults (real
 * clock, sockets, logger, database file) into the services. Everything else
 * receives its dependencies.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import type { Server } from '@hapi/hapi';
import type { Config } from './config/schema.js';
import { systemClock, type Clock } from './lib/clock.js';
import { createLogger, type Logger } from './lib/logger.js';
import { service, type Service } from './lib/service.js';
import { openDatabase, type Db } from './store/db.js';
import { NodeRepo } from './store/nodes.js';
import { TokenRepo } from './store/tokens.js';
import { EffectExecutor } from './services/effects.js';
import { EventBus } from './services/events.js';
import { NodeService } from './services/nodes.js';
import { startServices, type RunningServices } from './services/runner.js';
import { createApiServer } from './api/server.js';
import { AdmissionGate, registerAdmission } from './api/admission.js';
import { closeOperatorListener, listenForOperators } from './api/operator-listener.js';
import type { Server as NetServer } from 'node:net';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { createDhcpService } from './services/dhcp-service.js';
import { registerNodeRoutes } from './api/nodes.js';
import { AgentTokenRepo } from './store/agent-tokens.js';
import { NodeLogRepo } from './store/node-logs.js';
import { TemplateStore } from './boot/ipxe.js';
import { DiscoveryService } from './services/discovery.js';
import { BootScriptService } from './services/boot-scripts.js';
import { installDiscoveryImage } from './services/discovery-image.js';
import { registerDiscoveryRoutes } from './api/discovery.js';
import { agentNode } from './api/agent-auth.js';
import { registerHardwareInstallRoute } from './api/hardware-install.js';
import { biosPlanFor, ipmiPlanFor, raidLayoutFor, raidPlanFor } from './services/hardware-plan.js';
import { UserRepo } from './store/users.js';
import { SessionRepo } from './store/sessions.js';
import { TokenAdmin } from './store/tokens.js';
import { WebhookRepo } from './store/webhooks.js';
import { SecretBox } from './lib/secret-box.js';
import { EventLog } from './store/event-log.js';
import { AccountService } from './services/accounts.js';
import { EventFeed } from './services/feed.js';
import { WebhookDispatcher, fetchPoster } from './services/webhooks.js';
import { registerSessionRoutes, sessionAuth, sessionCookie } from './api/session.js';
import { registerUserRoutes } from './api/users.js';
import { registerEventRoutes } from './api/events.js';
import { registerWebhookRoutes } from './api/webhooks.js';
import { registerAllocationRoutes } from './api/allocations.js';
import { registerOpenApiRoute } from './api/openapi.js';
import { registerConsole } from './console/plugin.js';
import { AllocationRepo } from './store/allocations.js';
import { BarclampRepo, ProposalRepo } from './store/barclamps.js';
import { BarclampService } from './services/barclamps.js';
import { FALLBACK_NETWORK_ATTRIBUTES, NetworkService, type NetworkAttributes } from './services/network.js';
import { ProposalService, type ProposalView } from './services/proposals.js';
import { OsSelection } from './services/os-selection.js';
import { OsFileSource } from './services/os-files.js';
import { parseCidr } from './lib/ip.js';
import { OsImporter } from './services/os-import.js';
import { ImageInstallPlanner } from './services/image-install.js';
import { registerRootImage } from './services/root-image.js';
import { registerOsRoutes } from './api/os.js';
import { InstallTemplateStore } from './boot/install-templates.js';
import { InstallerService } from './services/installer.js';
import { installSettingsSource } from './services/install-settings.js';
import { diskPlan, type RaidSettings } from './boot/install-config.js';
import type { Node } from './model/node.js';
import { osInstallDispatcher } from './services/os-install-source.js';
import { registerInstallRoutes } from './api/install.js';
import { MediaImport } from './services/iso-import.js';
import { ChefRoleService } from './services/chef-roles.js';
import { registerChefRoutes } from './api/chef.js';
import { registerNodeOsRoutes } from './api/node-os.js';
import { InstallTokenRepo } from './store/install-tokens.js';
import { OsMediaRepo } from './store/os-media.js';
import { registerBarclampRoutes } from './api/barclamps.js';
import { registerNetworkRoutes } from './api/networks.js';
import { execFileRunner, type CommandRunner } from './lib/command.js';
import { dgramSocketFactory, type UdpSocketFactory } from './ipmi/transport.js';
import { PowerRepo } from './store/power.js';
import { BmcSecretBox, loadOrCreateBmcKey } from './services/power/credentials.js';
import { DriverRegistry } from './services/power/registry.js';
import { PowerService } from './services/power/service.js';
import { registerPowerRoutes } from './api/power.js';
import { DnsView } from './store/dnsview.js';
import { createDnsService } from './services/dns.js';
import { createNtpService } from './services/ntp.js';
import { chooseFileBodies, registerBootFileRoutes } from './api/boot-files.js';
import { BootFileSource } from './services/boot-files.js';
import { provisionIpxeLoaders } from './services/ipxe-loaders.js';
import { createTftpService } from './services/tftp.js';
import type { TftpServer } from './protocols/tftp/server.js';
import { chooseDatagramPath } from './protocols/tftp/datagram.js';
import { loadDatagramAddon } from './protocols/tftp/native-socket.js';
import { loadSendfileAddon } from './http/sendfile.js';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { nodeSimHttp } from './sim/http-client.js';
import { configureBmcNetwork } from './sim/operator.js';
import { Simulation, type SimulateOptions } from './sim/simulator.js';

/** Event-loop delay since `h` was enabled, ms (health): how long a request may wait for the loop. */
function loopDelay(h: IntervalHistogram): Record<string, number> {
  const ms = (ns: number) => Math.round(ns / 1e5) / 10;
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

/** The process's memory in MB (health: RSS, V8 heap, buffers outside the heap). */
function memoryMb(): Record<string, number> {
  const m = process.memoryUsage();
  const mb = (b: number) => Math.round(b / 104857.6) / 10;
  return { rss: mb(m.rss), heap_used: mb(m.heapUsed), heap_total: mb(m.heapTotal), external: mb(m.external), array_buffers: mb(m.arrayBuffers) };
}

/** Everything the running appliance is made of (exposed for tests). */
export interface Appliance {
  config: Readonly<Config>;
  db: Db;
  log: Logger;
  clock: Clock;
  nodes: NodeService;
  nodeRepo: NodeRepo;
  tokens: TokenRepo;
  bus: EventBus;
  executor: EffectExecutor;
  barclamps: BarclampService;
  proposals: ProposalService;
  network: NetworkService;
  allocations: AllocationRepo;
  /** BMC power and boot-device control (docs/ipmi.md). */
  power: PowerService;
  http: Server;
  services: Service[];
  /** Discovery registration and agent operations. */
  discovery: DiscoveryService;
  /** Per-node iPXE scripts. */
  bootScripts: BootScriptService;
  /** Registered OS media (installer trees and root images). */
  osMedia: OsMediaRepo;
  /** Which OS medium each node installs. */
  osSelection: OsSelection;
  /** Imports OS media into <data_dir>/os. */
  osImporter: OsImporter;
  /** The installer path: install tokens, configs, post-install, join credential (docs/os-install.md). */
  installer: InstallerService;
  /** Boot files (TFTP and /boot/files/): add generators and prefix roots here. */
  bootFiles: BootFileSource;
  /** The TFTP server when enabled. */
  tftp: TftpServer | null;
  /** The admin token when it was created by this start (first start only). */
  initialAdminToken: string | null;
  /** The console admin password when it was created by this start (first start only). */
  initialAdminPassword: string | null;
  accounts: AccountService;
  feed: EventFeed;
  webhooks: WebhookDispatcher;
}

/** Optional overrides (tests inject a clock or a logger). */
export interface ApplianceDeps {
  clock?: Clock;
  log?: Logger;
  /** UDP sockets for the IPMI client (tests: fakes). */
  sockets?: UdpSocketFactory;
  /** External command runner (ipmitool driver). */
  run?: CommandRunner;
}

/** Build the power service: key file, drivers, effect handlers for 'power' and 'boot-device'. */
function createPower(config: Readonly<Config>, secretBox: SecretBox, db: Db, nodeRepo: NodeRepo, bus: EventBus, executor: EffectExecutor, clock: Clock, log: Logger, deps: ApplianceDeps): PowerService {
  const pc = config.services.power;
  const plog = log.child({ component: 'power' });
  const drivers = new DriverRegistry({ config: pc, sockets: deps.sockets ?? dgramSocketFactory, run: deps.run ?? execFileRunner, log: plog });
  const power = new PowerService({
    nodes: nodeRepo,
    power: new PowerRepo(db),
    secrets: new BmcSecretBox(secretBox),
    drivers,
    bus,
    clock,
    log: plog,
    opts: {
      pollIntervalMs: pc.poll_interval_ms,
      stateTimeoutMs: pc.state_timeout_ms,
      softTimeoutMs: pc.soft_timeout_ms,
      paceMs: pc.pace_ms,
      retries: pc.retries,
      recheckIntervalS: pc.recheck_interval_s,
      bmcUser: pc.bmc_user,
      defaultDriver: pc.default_driver,
    },
  });
  executor.on('power', power.handleEffect);
  executor.on('boot-device', power.handleEffect);
  return power;
}

/** The barclamps shipped with Crowbar: `barclamps/` at the repository (or package) root. */
function shippedBarclampsDir(): string | null {
  return shippedDir('barclamps');
}

/** A directory shipped with Crowbar at the repository (or package) root, e.g. `images/join`. */
function shippedDir(rel: string): string | null {
  for (const d of [resolve(import.meta.dirname, '..', rel), resolve(import.meta.dirname, '..', '..', rel)]) if (existsSync(d)) return d;
  return null;
}

/** Create the admin token on first start; stored 0600 in the data directory. */
function ensureAdminToken(cfg: Readonly<Config>, tokens: TokenRepo, clock: Clock): string | null {
  if (tokens.count() > 0) return null;
  const { token } = tokens.create('admin', 'admin', clock.now());
  const file = join(cfg.data_dir, 'admin.token');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

/** Create the console user `admin` on first start; password stored 0600 in the data directory. */
async function ensureAdminPassword(cfg: Readonly<Config>, accounts: AccountService): Promise<string | null> {
  const password = await accounts.ensureInitialAdmin();
  if (password === null) return null;
  const file = join(cfg.data_dir, 'admin.password');
  writeFileSync(file, password + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return password;
}

/** Wrap a service so that its state shows in the health route. */
function tracked(s: Service, status: Record<string, string>): Service {
  return service(
    s.name,
    async (signal, fatal) => {
      await s.start(signal, fatal);
      status[s.name] = 'running';
    },
    async () => {
      await s.stop();
      status[s.name] = 'stopped';
    },
  );
}

/** Build the appliance from a validated config (nothing listens yet). */
export async function createAppliance(config: Readonly<Config>, deps: ApplianceDeps = {}): Promise<Appliance> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? createLogger(config.log_level);
  if (!existsSync(config.data_dir)) mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const db = openDatabase(join(config.data_dir, 'crowbar.db'));
  const nodeRepo = new NodeRepo(db);
  const tokens = new TokenRepo(db);
  const bus = new EventBus();
  const executor = new EffectExecutor(log.child({ component: 'effects' }));
  const nodes = new NodeService(nodeRepo, executor, bus, clock, log.child({ component: 'nodes' }));
  nodes.recoverInterrupted();
  const initialAdminToken = ensureAdminToken(config, tokens, clock);
  // Secrets at rest (BMC passwords, webhook secrets) are sealed with one key kept outside the database.
  const keyFile = config.services.power.key_file || join(config.data_dir, 'keys', 'bmc.key');
  const { key, created } = loadOrCreateBmcKey(keyFile);
  if (created) log.info('created the secrets key file (keep it outside backups of the database)', { key_file: keyFile });
  const secretBox = new SecretBox(key);
  const power = createPower(config, secretBox, db, nodeRepo, bus, executor, clock, log, deps);

  // Barclamps, proposals and the network barclamp (allocation, conduits).
  const barclampRepo = new BarclampRepo(db);
  const proposalRepo = new ProposalRepo(db);
  const barclamps = new BarclampService(barclampRepo, proposalRepo, shippedBarclampsDir(), config.data_dir, bus, clock, log.child({ component: 'barclamps' }));
  barclamps.init();
  const allocations = new AllocationRepo(db);
  const network = new NetworkService(
    config,
    allocations,
    nodeRepo,
    {
      applied: () => {
        const rows = proposalRepo.list('network').filter((r) => r.applied_doc !== null);
        const row = rows.find((r) => r.name === 'default') ?? rows[0];
        return row ? ((JSON.parse(row.applied_doc!) as { attributes: { network: NetworkAttributes } }).attributes.network) : null;
      },
      template: () => (barclamps.has('network') ? (barclamps.get('network').template.attributes.network as unknown as NetworkAttributes) : FALLBACK_NETWORK_ATTRIBUTES),
    },
    clock,
    log.child({ component: 'network' }),
  );
  const proposals = new ProposalService(barclamps, proposalRepo, barclampRepo, nodeRepo, network, bus, clock, log.child({ component: 'proposals' }), {
    applianceUrl: config.services.http.public_url,
    applianceAddress: config.admin_network.address.split('/')[0],
  });
  proposals.registerHook(network.hook());
  proposals.start();
  executor.on('release-allocations', (node) => {
    network.releaseNodeId(node.id);
  });
  // OS media and which OS each node gets (docs/os-install.md).
  const osMedia = new OsMediaRepo(db);
  const osSelection = new OsSelection(osMedia, () => {
    const rows = proposalRepo.list('provisioner').filter((r) => r.applied_doc !== null);
    const row = rows.find((r) => r.name === 'default') ?? rows[0];
    const os = row ? (JSON.parse(row.applied_doc!) as { attributes?: { provisioner?: { default_os?: unknown } } }).attributes?.provisioner?.default_os : undefined;
    return typeof os === 'string' && os !== '' ? os : null;
  });

  // Console: users, sessions, live events, webhooks.
  const sessions = new SessionRepo(db);
  const accounts = new AccountService(new UserRepo(db), sessions, clock, log.child({ component: 'accounts' }));
  const initialAdminPassword = await ensureAdminPassword(config, accounts);
  const cookie = sessionCookie(config.services.http.public_url);
  const eventLog = new EventLog(db);
  const feed = new EventFeed(eventLog, nodeRepo, bus, log.child({ component: 'events' }));
  const webhookRepo = new WebhookRepo(db, secretBox);
  const webhooks = new WebhookDispatcher(webhookRepo, fetchPoster, clock, log.child({ component: 'webhooks' }));
  feed.subscribe((e) => webhooks.onEvent(e));
  feed.start();

  const services: Service[] = [];
  const status: Record<string, string> = {};
  // File bodies of /boot/files and /os: sendfile(2) through the addon (build/native) when it loads, else streamed.
  const fileBodies = chooseFileBodies(config.services.http.sendfile, () => loadSendfileAddon(), log.child({ component: 'http' }));
  const http = await createApiServer({
    host: config.services.http.bind,
    port: config.services.http.port,
    tokens,
    sessions: sessionAuth(sessions, cookie, () => clock.now()),
    log: log.child({ component: 'http' }),
    health: () => ({ services: status, nodes: nodeRepo.count(), machine_requests: admission.stats(), memory: memoryMb(), event_loop_delay_ms: loopDelay(loopHistogram), http_files: fileBodies.stats }),
  });
  const loopHistogram = monitorEventLoopDelay({ resolution: 10 });
  loopHistogram.enable();
  const admission = new AdmissionGate({ maxQueue: config.services.http.machine_queue, turnMs: 10, defer: setImmediate, now: () => performance.now() });
  registerAdmission(http, admission, { retryAfterSeconds: config.services.http.retry_after_seconds, log: log.child({ component: 'admission' }) });
  registerNodeRoutes(http, nodes, nodeRepo, config.admin_network.domain);
  registerSessionRoutes(http, accounts, sessions, cookie);
  registerUserRoutes(http, accounts, tokens, new TokenAdmin(db), clock);
  const streams = registerEventRoutes(http, feed, nodes, nodeRepo, eventLog, clock);
  registerWebhookRoutes(http, webhookRepo, webhooks, clock);
  registerAllocationRoutes(http, allocations, nodes);
  registerOpenApiRoute(http, '0.1.0');
  registerConsole(http);
  registerNetworkRoutes(http, network, nodeRepo);
  registerPowerRoutes(http, nodes, power);
  if (config.services.power.enabled) services.push(power.service());

  if (config.services.dns.enabled) {
    const view = new DnsView(db);
    const store = { marker: () => view.marker(), names: () => view.names(), allocations: () => allocations.list() };
    const dns = createDnsService(config, store, clock, log.child({ component: 'dns' }));
    // The zone follows the store on its own; these make a change visible even sooner.
    executor.on('dns-update', () => dns.zones.invalidate());
    bus.subscribe(() => dns.zones.invalidate());
    services.push(tracked(dns.service, status));
  }
  if (config.services.ntp.enabled) services.push(tracked(createNtpService(config, clock, log.child({ component: 'ntp' })).service, status));

  // Discovery: registration endpoint, agent endpoints, per-node boot scripts.
  const disc = config.discovery;
  const agentTokens = new AgentTokenRepo(db);
  // Image-based install (docs/image-install.md): nodes whose OS is a root image write it from the discovery image.
  const adminCidr = parseCidr(config.admin_network.address);
  // The raid proposal listing a node, read one way by hardware-install, installer and image media (services/hardware-plan.ts).
  const raidProposals = (): ProposalView[] => (barclamps.has('raid') ? proposals.list('raid') : []);
  const raidLayout = (node: Node): RaidSettings | null => raidLayoutFor(node.name, raidProposals());
  // Per-node install settings (admin allocation, raid layout, provisioner attributes) of installer media.
  const installSettings = installSettingsSource({
    network,
    proposals: proposalRepo,
    raidLayout,
    applianceAddress: config.admin_network.address.split('/')[0],
    provisionerTemplate: () => (barclamps.has('provisioner') ? ((barclamps.get('provisioner').template.attributes.provisioner as Record<string, unknown> | undefined) ?? null) : null),
  });
  const imagePlanner = new ImageInstallPlanner({
    mediaFor: (node) => osSelection.mediaFor(node),
    adminAddress: (node) => network.allocate('admin', node.id).address,
    adminNetwork: () => ({ prefix: adminCidr.prefix, router: config.admin_network.router ?? null, dns: config.admin_network.address.split('/')[0] }),
    diskPlan: (node) => diskPlan(node.inventory.disks, raidLayout(node)),
    publicUrl: config.services.http.public_url,
    domain: config.admin_network.domain,
  });
  const discovery = new DiscoveryService(
    {
      db,
      repo: nodeRepo,
      nodes,
      allocateAdmin: (nodeId) => network.allocate('admin', nodeId),
      tokens: agentTokens,
      logs: new NodeLogRepo(db, disc.log_cap_bytes),
      executor,
      bus,
      clock,
      log: log.child({ component: 'discovery' }),
      imagePlan: (node) => imagePlanner.plan(node),
    },
    {
      domain: config.admin_network.domain,
      pollSeconds: disc.poll_seconds,
    },
  );
  const bootScripts = new BootScriptService(nodeRepo, new TemplateStore(disc.templates_dir || undefined), {
    publicUrl: config.services.http.public_url,
    kernelArgs: disc.kernel_args,
  });
  // The installer path: install tokens, configs, post-install, join credential (docs/os-install.md).
  const barclampsDir = shippedBarclampsDir();
  const installer = new InstallerService(
    {
      nodeRepo,
      nodes,
      osSelection,
      templates: new InstallTemplateStore(join(barclampsDir ?? resolve('barclamps'), 'provisioner', 'templates')),
      tokens: new InstallTokenRepo(db),
      settings: installSettings,
      issueCredential: (nodeId, now) => agentTokens.issue(nodeId, now),
      clock,
      log: log.child({ component: 'installer' }),
    },
    { publicUrl: config.services.http.public_url, domain: config.admin_network.domain, joinDir: shippedDir('images/join') ?? resolve('images', 'join') },
  );
  registerInstallRoutes(http, installer);
  registerNodeOsRoutes(http, { nodes, repo: osMedia, selection: osSelection, clock });
  // Boot scripts dispatch on the node's OS medium: installer media here; image media plug in beside it.
  bootScripts.setOsInstallSource(osInstallDispatcher(osSelection, { installer: (node) => installer.bootFor(node) }, log.child({ component: 'os-install' })));
  bootScripts.setImageInstall((node) => imagePlanner.imageMedium(node) !== null);
  registerDiscoveryRoutes(http, { discovery, bootScripts, nodes, clock }, { maxBodyBytes: disc.max_body_bytes, ratePerMinute: disc.rate_per_minute });
  // Chef role files for a node's own agent (images/join/chef-role.sh).
  registerChefRoutes(http, new ChefRoleService(proposals, barclamps));
  // After the discovery routes: run lists and content also accept the agent strategy registered there.
  registerBarclampRoutes(http, barclamps, proposals, barclampRepo);
  // The hardware-install instruction (BMC address/user, RAID) for the calling node's agent.
  registerHardwareInstallRoute(http, power, {
    auth: 'agent',
    nodeOf: agentNode,
    channel: config.services.power.bmc_channel,
    plan: (node) => {
      const { level, disks } = raidPlanFor(node.name, raidProposals());
      const raid = level === 'none' ? { level } : { level, disks };
      const b = barclamps.has('bios') ? biosPlanFor(node.name, proposals.list('bios')) : null;
      const bios = b ? { settings: b.settings, ...(b.tool ? { tool: b.tool } : {}) } : undefined;
      const i = barclamps.has('ipmi') ? ipmiPlanFor(node.name, proposals.list('ipmi')) : null;
      const ipmi = i ? { bmc: i.bmc, ...(i.channel ? { channel: i.channel } : {}), ...(i.userId ? { userId: i.userId } : {}) } : {};
      if (i?.bmc === false || !('bmc' in network.networks())) return { raid, bios, ...ipmi };
      const def = network.network('bmc');
      const a = network.allocate('bmc', node.id);
      return { network: { ip: a.address, netmask: def.netmask, ...(def.router ? { gateway: def.router } : {}), vlan: def.use_vlan ? def.vlan : 'off' }, raid, bios, ...ipmi };
    },
  });
  status.discovery_image = installDiscoveryImage(disc.image_dir, disc.image_cache, log.child({ component: 'discovery' }));

  const tftpCfg = config.services.tftp;
  const bootFiles = new BootFileSource({
    root: tftpCfg.root,
    prefixes: [{ prefix: 'discovery', dir: disc.image_dir }, ...tftpCfg.prefix_roots],
    now: () => clock.now(),
  });
  provisionIpxeLoaders(tftpCfg.root, tftpCfg.ipxe_dir, log.child({ component: 'boot-files' }));
  registerBootFileRoutes(http, bootFiles, log.child({ component: 'boot-files' }), fileBodies);
  const osImporter = new OsImporter(osMedia, join(config.data_dir, 'os'), clock, log.child({ component: 'os' }));
  const mediaImport = new MediaImport(osImporter, deps.run ?? execFileRunner, { stagingDir: join(config.data_dir, 'os', '.staging'), netbootRoot: '/usr/lib/debian-installer/images', timeoutMs: 30 * 60_000 }, log.child({ component: 'os' }), () => clock.now());
  status.root_image = 'importing';
  void registerRootImage(disc.root_image_cache, osMedia, osImporter, log.child({ component: 'os' })).then((r) => {
    status.root_image = r;
  });
  registerOsRoutes(http, { repo: osMedia, importer: osImporter, files: new OsFileSource(osMedia), publicUrl: config.services.http.public_url, importPath: (p) => mediaImport.importPath(p), bodies: fileBodies }, log.child({ component: 'os' }));
  let tftp: TftpServer | null = null;
  if (tftpCfg.enabled) {
    // -1: one transfer worker per CPU this process may run on (affinity-aware); 0: in process.
    const tftpWorkers = tftpCfg.workers < 0 ? availableParallelism() : tftpCfg.workers;
    const tftpLog = log.child({ component: 'tftp' });
    // Transfer sockets: the native addon (build/native, scripts/build-native.sh) when it loads, else node:dgram.
    const datagram = chooseDatagramPath(tftpCfg.datagram, () => loadDatagramAddon(), tftpLog);
    const t = createTftpService(tftpCfg, tftpWorkers, datagram, bootFiles, tftpLog, clock);
    tftp = t.server;
    services.push(t.service);
  }

  let operatorListener: NetServer | null = null;
  if (config.services.http.enabled) {
    services.push(
      service(
        'http',
        async () => {
          await http.start();
          const op = config.services.http.operator_port;
          if (op > 0) operatorListener = await listenForOperators(http.listener, config.services.http.bind, op);
          status.http = 'running';
        },
        async () => {
          await closeOperatorListener(operatorListener);
          operatorListener = null;
          await http.stop({ timeout: 2000 });
          status.http = 'stopped';
        },
      ),
    );
  }
  // After http: stops first, closing event streams so the HTTP server can stop.
  const purge = setInterval(() => {
    sessions.purge(clock.now());
    webhookRepo.prune(clock.now() - 30 * 86400_000);
  }, 3600_000);
  purge.unref();
  services.push(
    service(
      'events',
      async () => {
        webhooks.start();
      },
      async () => {
        clearInterval(purge);
        streams.closeAll();
        feed.stop();
        webhooks.stop();
      },
    ),
  );
  if (config.services.dhcp.enabled) {
    services.push(createDhcpService({ config, db, clock, log: log.child({ component: 'dhcp' }) }));
  }
  return { config, db, log, clock, nodes, nodeRepo, tokens, bus, executor, barclamps, proposals, network, allocations, power, http, services, initialAdminToken, initialAdminPassword, accounts, feed, webhooks, bootFiles, tftp, discovery, bootScripts, osMedia, osSelection, osImporter, installer };
}

/**
 * Run the appliance until `signal` aborts or a service fails. Resolves after
 * everything stopped and the database closed; rejects with the fatal error.
 */
export async function runAppliance(app: Appliance, signal: AbortSignal): Promise<void> {
  let running: RunningServices;
  try {
    running = await startServices(app.services, signal, app.log);
  } catch (e) {
    app.db.close();
    throw e;
  }
  app.log.info('crowbar is running', { api: app.config.services.http.public_url, data_dir: app.config.data_dir });
  try {
    await running.done;
  } finally {
    app.db.close();
  }
}

/**
 * A prepared simulation (`crowbar simulate`, the simulator tests and the scale benchmark) wired
 * with the real defaults: UDP sockets (the rack relays' with SO_REUSEADDR, for an appliance
 * bound to 0.0.0.0 on the relays' port), HTTP over node:http, Math.random, the system clock.
 * When `options.bmcNetwork` is set, the operator first puts the `bmc` network on that subnet.
 */
export async function startSimulation(options: SimulateOptions, log: Logger = createLogger('warn')): Promise<Simulation> {
  const sim = new Simulation(options, {
    udp: () => createSocket('udp4'),
    relayUdp: () => createSocket({ type: 'udp4', reuseAddr: true }),
    http: nodeSimHttp(),
    random: Math.random,
    randomBytes,
    now: () => systemClock.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    log,
  });
  if (options.bmcNetwork) await configureBmcNetwork(sim.api, options.bmcNetwork);
  await sim.prepare();
  return sim;
}
