/**
 * The DHCP service as the appliance runs it: the protocol loop
 * (src/protocols/dhcp/server.ts) on 0.0.0.0:67 and :4011, the lease policy,
 * the lease table on the appliance database, and reservations from the
 * nodes' 'admin' allocations.
 */
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { parseCidr } from '../lib/ip.js';
import type { Service } from '../lib/service.js';
import { DhcpServer } from '../protocols/dhcp/server.js';
import type { Db } from '../store/db.js';
import { DhcpLeaseRepo } from '../store/dhcp-leases.js';
import { AdaptiveCommitter, inlineCommitter, WorkerCommitter } from '../store/dhcp-lease-committer.js';
import { LeaseTable } from './dhcp-lease-table.js';
import { LeasePolicy, type Reservation, type Reservations } from './dhcp-policy.js';
import { ipNum, poolsFromConfig } from './dhcp-pools.js';

/** Dependencies of the DHCP service. */
export interface DhcpServiceDeps {
  config: Readonly<Config>;
  db: Db;
  clock: Clock;
  log: Logger;
}

/** The DHCP service plus its parts (exposed for tests and health). */
export interface DhcpService extends Service {
  policy: LeasePolicy;
  table: LeaseTable;
  server: DhcpServer;
}

/**
 * Reservations backed by the node store: a node's MACs map to its 'admin'
 * allocation. The policy asks for every DISCOVER and REQUEST, so answers are
 * cached in memory per MAC (one indexed query per MAC) until the reservation
 * generation changes (triggers on node_macs, nodes and allocations,
 * migration 2), which drops the cache. During a rack's boot burst the
 * generation changes with nearly every registration, so a snapshot of all
 * MACs per change (what this did before) cost O(nodes) per packet; the
 * per-MAC cache costs O(1). The generation is read once per event-loop turn,
 * so a node created or re-allocated through the API is seen by the next
 * packet handled after the commit. Above `maxCached` cached MACs, or when the
 * triggers are missing, lookups go to SQLite per packet.
 * `isReserved` (asked for candidate pool addresses) uses a snapshot of the
 * allocations inside the dynamic ranges taken the same way.
 */
export function nodeReservations(repo: DhcpLeaseRepo, ranges: ReadonlyArray<{ start: number; end: number }>, log: Logger, maxCached = 100_000): Reservations {
  const cacheable = repo.reservationGeneration() !== null;
  if (!cacheable) log.warn('dhcp: reservation triggers missing; reservations are looked up per packet');
  const byMac = new Map<string, Reservation | null>();
  let allocated: Set<number> | null = null;
  let gen = -1;
  let checked = false;
  const lo = Math.min(...ranges.map((r) => r.start));
  const hi = Math.max(...ranges.map((r) => r.end));
  const fresh = (): void => {
    if (!cacheable || checked) return;
    checked = true;
    setImmediate(() => (checked = false));
    const g = repo.generation();
    if (g === gen) return;
    gen = g;
    allocated = null;
    byMac.clear();
  };
  return {
    lookup(mac) {
      fresh();
      const hit = byMac.get(mac);
      if (hit !== undefined) return hit;
      const r = repo.reservationByMac(mac);
      const v = r && r.address ? { address: r.address, hostname: r.name.split('.')[0] } : null;
      if (cacheable && byMac.size < maxCached) byMac.set(mac, v);
      return v;
    },
    isReserved(address) {
      fresh();
      const set = allocated ?? repo.allocatedIn(lo, hi);
      if (cacheable) allocated = set;
      return set.has(ipNum(address));
    },
  };
}

/** Build the DHCP service from the configuration (nothing listens until start). */
export function createDhcpService(d: DhcpServiceDeps): DhcpService {
  const cfg = d.config;
  const dc = cfg.services.dhcp;
  const admin = parseCidr(cfg.admin_network.address);
  const serverIp = admin.address;
  const pools = poolsFromConfig(cfg);
  const repo = new DhcpLeaseRepo(d.db);
  // A file database commits inline while commits are fast and on a worker
  // thread while they are slow (fsync off the event loop); in-memory inline.
  const worker = d.db.memory
    ? null
    : new WorkerCommitter(d.db.name, inlineCommitter(repo), (e) => d.log.error('dhcp: lease worker died; committing on the main thread from now on', { error: e.message }));
  const committer = worker ? new AdaptiveCommitter(inlineCommitter(repo), worker) : inlineCommitter(repo);
  const table = new LeaseTable(repo, committer, d.clock, d.log, dc.max_offers);
  const policy = new LeasePolicy(
    {
      mode: dc.mode,
      serverIp,
      admin: pools.admin,
      relays: pools.relays,
      leaseSeconds: dc.lease_seconds,
      offerHoldSeconds: dc.offer_hold_seconds,
      declineSeconds: dc.decline_seconds,
      domain: cfg.admin_network.domain,
      dnsServers: cfg.services.dns.enabled ? [serverIp] : [],
      ntpServers: cfg.services.ntp.enabled ? [serverIp] : [],
      boot: { publicUrl: cfg.services.http.public_url, tftpServer: serverIp, efiLoader: dc.efi_loader },
    },
    table,
    nodeReservations(repo, [pools.admin, ...pools.relays], d.log),
    d.clock,
    d.log,
  );
  const server = new DhcpServer({
    bind: dc.bind,
    port: dc.port,
    pxePort: dc.proxy_port,
    clientPort: dc.client_port,
    broadcast: pools.admin.broadcast,
    policy,
    log: d.log,
    clock: d.clock,
  });
  return {
    name: 'dhcp',
    policy,
    table,
    server,
    async start() {
      if (worker) await worker.whenReady();
      await server.start();
      d.log.info('dhcp: listening', { mode: dc.mode, bind: dc.bind, ports: server.ports(), pool: `${dc.range_start}-${dc.range_end}`, relays: pools.relays.map((p) => p.name), leases: table.size });
    },
    async stop() {
      await server.stop();
      await table.drain();
      await committer.close();
    },
  };
}
