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
import { createDhcpService } from './services/dhcp-service.js';
import { registerNodeRoutes } from './api/nodes.js';

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

  const services: Service[] = [];
  const status: Record<string, string> = {};
  const http = await createApiServer({
    host: config.services.http.bind,
    port: config.services.http.port,
    tokens,
    log: log.child({ component: 'http' }),
    health: () => ({ services: status, nodes: nodeRepo.count() }),
  });
  registerNodeRoutes(http, nodes, nodeRepo);

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
  if (config.services.dhcp.enabled) {
    services.push(createDhcpService({ config, db, clock, log: log.child({ component: 'dhcp' }) }));
  }
  return { config, db, log, clock, nodes, nodeRepo, tokens, bus, executor, http, services, initialAdminToken };
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
