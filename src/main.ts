/**
 * The composition root: the only module that wires concrete defaults (real
 * clock, sockets, logger, database file) into the services. Everything else
 * receives its dependencies.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
import { registerNodeRoutes } from './api/nodes.js';
import { UserRepo } from './store/users.js';
import { SessionRepo } from './store/sessions.js';
import { TokenAdmin } from './store/tokens.js';
import { WebhookRepo } from './store/webhooks.js';
import { EventLog } from './store/event-log.js';
import { AllocationRepo } from './store/allocations.js';
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
  http: Server;
  services: Service[];
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

  // Console: users, sessions, live events, webhooks.
  const sessions = new SessionRepo(db);
  const accounts = new AccountService(new UserRepo(db), sessions, clock, log.child({ component: 'accounts' }));
  const initialAdminPassword = await ensureAdminPassword(config, accounts);
  const cookie = sessionCookie(config.services.http.public_url);
  const eventLog = new EventLog(db);
  const feed = new EventFeed(eventLog, nodeRepo, bus, log.child({ component: 'events' }));
  const webhookRepo = new WebhookRepo(db);
  const webhooks = new WebhookDispatcher(webhookRepo, fetchPoster, clock, log.child({ component: 'webhooks' }));
  feed.subscribe((e) => webhooks.onEvent(e));
  feed.start();

  const services: Service[] = [];
  const status: Record<string, string> = {};
  const http = await createApiServer({
    host: config.services.http.bind,
    port: config.services.http.port,
    tokens,
    sessions: sessionAuth(sessions, cookie, () => clock.now()),
    log: log.child({ component: 'http' }),
    health: () => ({ services: status, nodes: nodeRepo.count() }),
  });
  registerNodeRoutes(http, nodes, nodeRepo, config.admin_network.domain);
  registerSessionRoutes(http, accounts, sessions, cookie);
  registerUserRoutes(http, accounts, tokens, new TokenAdmin(db), clock);
  const streams = registerEventRoutes(http, feed, nodes, nodeRepo, eventLog, clock);
  registerWebhookRoutes(http, webhookRepo, webhooks, clock);
  registerAllocationRoutes(http, new AllocationRepo(db), nodes);
  registerOpenApiRoute(http, '0.1.0');
  registerConsole(http);

  if (config.services.http.enabled) {
    services.push(
      service(
        'http',
        async () => {
          await http.start();
          status.http = 'running';
        },
        async () => {
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
  return { config, db, log, clock, nodes, nodeRepo, tokens, bus, executor, http, services, initialAdminToken, initialAdminPassword, accounts, feed, webhooks };
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
