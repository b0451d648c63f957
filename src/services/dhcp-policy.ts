/**
 * The lease policy behind the DHCP server loop (RFC 2131 §4.3): DISCOVER ->
 * OFFER with an offer hold, REQUEST in SELECTING / INIT-REBOOT / RENEWING /
 * REBINDING, DECLINE (quarantine), RELEASE, INFORM; per-MAC reservations for
 * known nodes (their 'admin' allocation); PXE boot information; proxyDHCP
 * mode (boot information only, PXE 2.1 §2.2.2 / RFC 4578). A null answer
 * keeps the server silent.
 */
import type { Clock } from '../lib/clock.js';
import { LogThrottle, type Logger } from '../lib/logger.js';
import { intToIp, ipToInt } from '../lib/ip.js';
import { MessageType, Opt } from '../protocols/dhcp/constants.js';
import { optVal, type DhcpOptions } from '../protocols/dhcp/options.js';
import type { DhcpAnswer, DhcpPolicy, DhcpRequest } from '../protocols/dhcp/policy.js';
import { clientBootInfo, PXE_VENDOR_OPTIONS } from '../protocols/dhcp/pxe.js';
import { chooseBoot, type BootChoice, type BootSettings } from './dhcp-boot.js';
import { LeaseTable } from './dhcp-lease-table.js';
import { inRange, inSubnet, ipNum, poolForGiaddr, type DhcpPool } from './dhcp-pools.js';

/** A known node's reserved address. */
export interface Reservation {
  address: string;
  /** Short host name for option 12. */
  hostname: string;
}

/** Source of reservations (node admin allocations). */
export interface Reservations {
  /** The reservation of the machine with this MAC, or null. */
  lookup(mac: string): Reservation | null;
  /** True when `address` is some node's allocation (never handed out dynamically). */
  isReserved(address: string): boolean;
}

/** Policy settings. */
export interface DhcpPolicySettings {
  mode: 'full' | 'proxy';
  /** Our address: server identifier (option 54). */
  serverIp: string;
  admin: DhcpPool;
  relays: DhcpPool[];
  leaseSeconds: number;
  offerHoldSeconds: number;
  declineSeconds: number;
  domain: string;
  dnsServers: string[];
  ntpServers: string[];
  boot: BootSettings;
}

/** Counters. */
export interface DhcpPolicyStats {
  offers: number;
  acks: number;
  naks: number;
  exhausted: number;
}

const ZERO = '0.0.0.0';

/** RFC 2131 §4.3 lease policy. */
export class LeasePolicy implements DhcpPolicy {
  private readonly throttle = new LogThrottle(5, 10_000, 256);
  private readonly cursor = new Map<string, number>();
  private readonly exhaustedUntil = new Map<string, number>();
  private readonly templates = new Map<string, DhcpOptions>();
  private readonly serverIpInt: number;
  /** Counters. */
  readonly stats: DhcpPolicyStats = { offers: 0, acks: 0, naks: 0, exhausted: 0 };

  constructor(
    private readonly s: DhcpPolicySettings,
    private readonly table: LeaseTable,
    private readonly reservations: Reservations,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.serverIpInt = ipToInt(s.serverIp);
  }

  private warn(key: string, msg: string, fields: Record<string, unknown>): void {
    if (this.throttle.allow(key, this.clock.now())) this.log.warn(msg, fields);
  }

  /** DhcpPolicy entry point. */
  answer(req: DhcpRequest): DhcpAnswer | null | Promise<DhcpAnswer | null> {
    if (req.listener === 'pxe') return this.pxePort(req);
    if (this.s.mode === 'proxy') return this.proxy(req);
    const pool = poolForGiaddr(this.s.admin, this.s.relays, req.msg.giaddr);
    if (!pool) {
      this.warn(`giaddr:${req.msg.giaddr}`, 'dhcp: relayed request from a subnet without a pool; ignored', { giaddr: req.msg.giaddr, mac: req.mac });
      return null;
    }
    switch (req.type) {
      case MessageType.DISCOVER:
        return this.discover(req, pool);
      case MessageType.REQUEST:
        return this.request(req, pool);
      case MessageType.DECLINE:
        return this.decline(req, pool);
      case MessageType.RELEASE:
        return this.release(req, pool);
      case MessageType.INFORM:
        return this.inform(req, pool);
      default:
        return null;
    }
  }

  // ---- full mode -------------------------------------------------------

  private reservationFor(pool: DhcpPool, mac: string): Reservation | null {
    if (!pool.reservations) return null;
    const r = this.reservations.lookup(mac);
    if (!r) return null;
    const a = ipNum(r.address);
    return a === a && inSubnet(pool, a) ? r : null;
  }

  /**
   * May `mac` (with reservation `res`) be given `addr`? Returns 'ok',
   * 'force' (take the address over from a stale holder: reservations only)
   * or 'no'.
   */
  private allowed(pool: DhcpPool, mac: string, addr: number, res: Reservation | null, now: number): 'ok' | 'force' | 'no' {
    if (addr === this.serverIpInt || !inSubnet(pool, addr)) return 'no';
    if (res) {
      if (ipNum(res.address) !== addr) return 'no';
      if (this.table.isFreeFor(addr, pool.name, mac, now)) return 'ok';
      // Held by another MAC: if that MAC is also entitled (another NIC of the
      // same node) it keeps it; otherwise the holder is stale (the address
      // was re-allocated) and the node's allocation wins.
      const holder = this.table.row(addr);
      if (holder?.mac && this.reservations.lookup(holder.mac)?.address === res.address) return 'no';
      return 'force';
    }
    if (!inRange(pool, addr)) return 'no';
    if (!this.table.isFreeFor(addr, pool.name, mac, now)) return 'no';
    if (this.reservations.isReserved(intToIp(addr))) return 'no';
    return 'ok';
  }

  private findFree(pool: DhcpPool, mac: string, now: number): number | null {
    if ((this.exhaustedUntil.get(pool.name) ?? 0) > now) return null;
    const size = pool.end - pool.start + 1;
    let a = this.cursor.get(pool.name) ?? pool.start;
    for (let i = 0; i < size; i++, a++) {
      if (a > pool.end) a = pool.start;
      if (this.allowed(pool, mac, a, null, now) === 'ok') {
        this.cursor.set(pool.name, a + 1 > pool.end ? pool.start : a + 1);
        return a;
      }
    }
    // Do not rescan a full pool for every packet of a flood.
    this.exhaustedUntil.set(pool.name, now + 1000);
    return null;
  }

  private discover(req: DhcpRequest, pool: DhcpPool): DhcpAnswer | null {
    const now = this.clock.now();
    const mac = req.mac;
    const res = this.reservationFor(pool, mac);
    let addr: number | null = null;
    if (res) {
      const a = ipNum(res.address);
      if (this.allowed(pool, mac, a, res, now) !== 'no') addr = a;
    }
    if (addr === null && !res) {
      // RFC 2131 §4.3.1 order: the client's current/previous address, then the requested one, then a free one.
      const lease = this.table.leaseOf(pool.name, mac);
      const offered = this.table.offerOf(pool.name, mac, now);
      const wanted = optVal.readIp(req.msg.options.get(Opt.REQUESTED_IP));
      const cands = [lease && lease.state !== 'declined' ? lease.address_int : null, offered, wanted ? ipNum(wanted) : null];
      for (const c of cands) if (c !== null && this.allowed(pool, mac, c, null, now) === 'ok') {
        addr = c;
        break;
      }
      if (addr === null) addr = this.findFree(pool, mac, now);
    }
    if (addr === null && res) {
      this.warn(`reserved:${mac}`, 'dhcp: reserved address is held by another NIC of the node; no offer', { mac, address: res.address });
      return null;
    }
    if (addr === null) {
      this.stats.exhausted++;
      this.warn(`exhausted:${pool.name}`, 'dhcp: pool exhausted; no offer', { pool: pool.name, mac });
      return null;
    }
    this.table.holdOffer(pool.name, mac, addr, this.s.offerHoldSeconds * 1000, now);
    this.stats.offers++;
    return this.leaseAnswer(req, pool, MessageType.OFFER, intToIp(addr), res);
  }

  private request(req: DhcpRequest, pool: DhcpPool): DhcpAnswer | null | Promise<DhcpAnswer | null> {
    const now = this.clock.now();
    const m = req.msg;
    const mac = req.mac;
    const sid = optVal.readIp(m.options.get(Opt.SERVER_ID));
    const wanted = optVal.readIp(m.options.get(Opt.REQUESTED_IP));
    const res = this.reservationFor(pool, mac);
    if (sid !== null) {
      // SELECTING (RFC 2131 §4.3.2): the client chose a server; if not us, forget our offer and stay silent.
      if (sid !== this.s.serverIp) {
        this.table.dropOffer(pool.name, mac);
        return null;
      }
      if (wanted === null) return this.nak(req, 'SELECTING request without requested address');
      const addr = ipNum(wanted);
      const ok = this.allowed(pool, mac, addr, res, now);
      if (ok === 'no') return this.nak(req, `address ${wanted} not available to this client`);
      return this.commit(req, pool, addr, res, ok === 'force');
    }
    const initReboot = m.ciaddr === ZERO;
    const ipText = initReboot ? wanted : m.ciaddr;
    if (ipText === null) return null; // RFC 2131 §4.3.2: not a valid REQUEST form
    const addr = ipNum(ipText);
    // INIT-REBOOT: NAK an address on the wrong network (§4.3.2); RENEWING/REBINDING alike.
    if (!inSubnet(pool, addr)) return this.nak(req, `address ${ipText} is not on ${pool.name}`);
    const lease = this.table.leaseOf(pool.name, mac);
    const known = res !== null || (lease !== undefined && lease.state !== 'declined');
    if (!known) {
      // No record of this client: silent (§4.3.2), unless the address is plainly someone else's.
      const holder = this.table.row(addr);
      if (holder && holder.mac !== mac && LeaseTable.active(holder, now)) return this.nak(req, `address ${ipText} is held by another client`);
      return null;
    }
    if (res && ipNum(res.address) !== addr) return this.nak(req, `node is reserved ${res.address}`);
    if (!res && lease!.address_int !== addr) return this.nak(req, `client's lease is ${lease!.address}`);
    const ok = this.allowed(pool, mac, addr, res, now);
    if (ok === 'no') return this.nak(req, `address ${ipText} not available to this client`);
    return this.commit(req, pool, addr, res, ok === 'force');
  }

  private async commit(req: DhcpRequest, pool: DhcpPool, addr: number, res: Reservation | null, force: boolean): Promise<DhcpAnswer | null> {
    const address = intToIp(addr);
    const hostname = res?.hostname ?? optVal.readStr(req.msg.options.get(Opt.HOSTNAME));
    try {
      await this.table.bind(
        { address_int: addr, address, pool: pool.name, mac: req.mac, expires_at: this.clock.now() + this.s.leaseSeconds * 1000, hostname: hostname ? hostname.slice(0, 64) : null },
        force,
      );
    } catch (e) {
      this.warn('commit', 'dhcp: lease not committed; NAK', { mac: req.mac, address, error: e instanceof Error ? e.message : String(e) });
      return this.nak(req, 'lease could not be committed');
    }
    this.stats.acks++;
    return this.leaseAnswer(req, pool, MessageType.ACK, address, res);
  }

  private nak(req: DhcpRequest, why: string): DhcpAnswer {
    this.stats.naks++;
    if (this.throttle.allow(`nak:${req.mac}`, this.clock.now())) this.log.info('dhcp: NAK', { mac: req.mac, reason: why });
    return {
      type: MessageType.NAK,
      yiaddr: ZERO,
      options: new Map([
        [Opt.SERVER_ID, optVal.ips(this.s.serverIp)],
        [Opt.MESSAGE, optVal.str(why)],
      ]),
    };
  }

  private decline(req: DhcpRequest, pool: DhcpPool): null | Promise<null> {
    const wanted = optVal.readIp(req.msg.options.get(Opt.REQUESTED_IP));
    const sid = optVal.readIp(req.msg.options.get(Opt.SERVER_ID));
    if (!wanted || (sid !== null && sid !== this.s.serverIp)) return null;
    const addr = ipNum(wanted);
    const row = this.table.row(addr);
    if (!row || row.mac !== req.mac || row.pool !== pool.name) return null;
    this.log.warn('dhcp: client declined an address (in use on the network?); quarantined', { mac: req.mac, address: wanted, seconds: this.s.declineSeconds });
    return this.table.decline(addr, req.mac, this.clock.now() + this.s.declineSeconds * 1000).then(
      () => null,
      () => null,
    );
  }

  private release(req: DhcpRequest, pool: DhcpPool): null | Promise<null> {
    const ip = req.msg.ciaddr;
    if (ip === ZERO) return null;
    const addr = ipNum(ip);
    const row = this.table.row(addr);
    if (!row || row.mac !== req.mac || row.pool !== pool.name) return null;
    return this.table.release(addr, req.mac).then(
      () => null,
      () => null,
    );
  }

  private inform(req: DhcpRequest, pool: DhcpPool): DhcpAnswer | null {
    // RFC 2131 §4.3.5: ACK with configuration, no yiaddr, no lease time.
    if (req.msg.ciaddr === ZERO) return null;
    const a = this.leaseAnswer(req, pool, MessageType.ACK, ZERO, null);
    a.options.delete(Opt.LEASE_TIME);
    a.options.delete(Opt.RENEWAL_TIME);
    a.options.delete(Opt.REBINDING_TIME);
    return a;
  }

  /** Options that are the same in every OFFER/ACK of a pool, built once (buffers are never mutated). */
  private template(pool: DhcpPool): DhcpOptions {
    let o = this.templates.get(pool.name);
    if (o) return o;
    const lease = this.s.leaseSeconds;
    o = new Map();
    o.set(Opt.SERVER_ID, optVal.ips(this.s.serverIp));
    o.set(Opt.LEASE_TIME, optVal.u32(lease));
    o.set(Opt.RENEWAL_TIME, optVal.u32(Math.floor(lease / 2)));
    o.set(Opt.REBINDING_TIME, optVal.u32(Math.floor((lease * 7) / 8)));
    o.set(Opt.SUBNET_MASK, optVal.ips(pool.mask));
    if (pool.router) o.set(Opt.ROUTER, optVal.ips(pool.router));
    o.set(Opt.BROADCAST_ADDRESS, optVal.ips(pool.broadcast));
    if (this.s.dnsServers.length) o.set(Opt.DNS_SERVERS, optVal.ips(...this.s.dnsServers));
    if (this.s.domain) o.set(Opt.DOMAIN_NAME, optVal.str(this.s.domain));
    if (this.s.ntpServers.length) o.set(Opt.NTP_SERVERS, optVal.ips(...this.s.ntpServers));
    this.templates.set(pool.name, o);
    return o;
  }

  private leaseAnswer(req: DhcpRequest, pool: DhcpPool, type: number, yiaddr: string, res: Reservation | null): DhcpAnswer {
    const o: DhcpOptions = new Map(this.template(pool));
    if (res) o.set(Opt.HOSTNAME, optVal.str(res.hostname));
    const a: DhcpAnswer = { type, yiaddr, options: o };
    this.addBoot(req, a);
    return a;
  }

  // ---- PXE -------------------------------------------------------------

  private bootChoice(req: DhcpRequest): BootChoice | null {
    return chooseBoot(clientBootInfo(req.msg.options), req.mac, this.s.boot);
  }

  /** Add boot fields: siaddr, file, sname, options 66/67, 60 echo, 43 for PXE ROMs. Returns false when not a boot client. */
  private addBoot(req: DhcpRequest, a: DhcpAnswer, proxy = false): boolean {
    const b = this.bootChoice(req);
    if (!b) return false;
    a.siaddr = b.nextServer;
    a.file = b.file;
    a.sname = b.nextServer;
    a.options.set(Opt.TFTP_SERVER, optVal.str(b.nextServer));
    a.options.set(Opt.BOOTFILE, optVal.str(b.file));
    if (b.vendorClass) a.options.set(Opt.VENDOR_CLASS, optVal.str(b.vendorClass));
    if (b.vendorClass === 'PXEClient') a.options.set(Opt.VENDOR_SPECIFIC, PXE_VENDOR_OPTIONS);
    if (proxy) {
      // PXE 2.1 §2.2.2: a proxy answer carries the client's UUID back.
      const uuid = req.msg.options.get(Opt.CLIENT_UUID);
      if (uuid) a.options.set(Opt.CLIENT_UUID, uuid);
    }
    return true;
  }

  private bootOnly(req: DhcpRequest, type: number): DhcpAnswer | null {
    const a: DhcpAnswer = { type, yiaddr: ZERO, options: new Map([[Opt.SERVER_ID, optVal.ips(this.s.serverIp)]]) };
    return this.addBoot(req, a, true) ? a : null;
  }

  /** proxyDHCP on port 67: answer PXE DISCOVERs with boot information and no address. */
  private proxy(req: DhcpRequest): DhcpAnswer | null {
    if (req.type !== MessageType.DISCOVER) return null;
    const a = this.bootOnly(req, MessageType.OFFER);
    if (a) this.stats.offers++;
    return a;
  }

  /** Port 4011 (PXE boot server / proxyDHCP REQUEST): ACK with boot information. */
  private pxePort(req: DhcpRequest): DhcpAnswer | null {
    if (req.type !== MessageType.REQUEST && req.type !== MessageType.INFORM) return null;
    const a = this.bootOnly(req, MessageType.ACK);
    if (a) this.stats.acks++;
    return a;
  }
}
