/**
 * The DNS service: the authoritative server over the store-backed zones,
 * with forwarding (when configured) only for the admin network(s). Built by
 * the composition root from the `services.dns` config section.
 */
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { cidrContains, ipToInt, isIPv4, parseCidr } from '../lib/ip.js';
import type { Logger } from '../lib/logger.js';
import { RateLimiter } from '../lib/rate.js';
import { service, type Service } from '../lib/service.js';
import { Forwarder } from '../protocols/dns/forward.js';
import { DnsServer } from '../protocols/dns/server.js';
import { StoreZoneSource, type ZoneStore } from './dns-zones.js';
import { parseHostPort } from './hostport.js';

/** The running pieces (exposed for the health route and tests). */
export interface DnsService {
  service: Service;
  server: DnsServer;
  zones: StoreZoneSource;
}

/** Networks whose clients may use the forwarder: the admin subnet, relayed subnets, loopback. */
export function forwardingNetworks(config: Readonly<Config>): (address: string) => boolean {
  const nets = [config.admin_network.address, ...config.services.dhcp.relays.map((r) => r.subnet), '127.0.0.0/8'].map(parseCidr);
  return (address: string) => isIPv4(address) && nets.some((n) => cidrContains(n, ipToInt(address)));
}

/** Build the DNS service from the config and the store view. */
export function createDnsService(config: Readonly<Config>, store: ZoneStore, clock: Clock, log: Logger): DnsService {
  const c = config.services.dns;
  const zones = new StoreZoneSource(
    {
      domain: config.admin_network.domain,
      adminAddress: config.admin_network.address,
      extraSubnets: config.services.dhcp.relays.map((r) => r.subnet),
      aliases: c.aliases,
      ttl: c.ttl,
    },
    store,
    clock,
    log,
  );
  const forwarder = c.forwarders.length ? new Forwarder({ upstreams: c.forwarders.map((f) => parseHostPort(f, 53)) }) : undefined;
  const server = new DnsServer({
    bind: c.bind,
    port: c.port,
    source: zones,
    forwarder,
    mayForward: forwardingNetworks(config),
    limiter: c.rate_limit > 0 ? new RateLimiter(c.rate_limit, c.rate_limit * 2, 8192) : null,
    clock,
    log,
  });
  const svc = service(
    'dns',
    async () => {
      await server.start();
      log.info('dns listening', { bind: c.bind, port: server.port, zones: zones.current().origins() });
    },
    () => server.stop(),
  );
  return { service: svc, server, zones };
}
