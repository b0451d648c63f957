import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { MessageType, Opt } from '../../src/protocols/dhcp/constants.js';
import { optVal } from '../../src/protocols/dhcp/options.js';
import { chaddrString, decodeMessage, encodeMessage } from '../../src/protocols/dhcp/packet.js';
import type { DhcpAnswer, DhcpListener, DhcpRequest } from '../../src/protocols/dhcp/policy.js';
import { chooseBoot } from '../../src/services/dhcp-boot.js';
import { LeaseTable } from '../../src/services/dhcp-lease-table.js';
import { LeasePolicy, type Reservation } from '../../src/services/dhcp-policy.js';
import { poolsFromConfig } from '../../src/services/dhcp-pools.js';
import { buildConfig } from '../../src/config/load.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { DhcpLeaseRepo } from '../../src/store/dhcp-leases.js';
import { inlineCommitter } from '../../src/store/dhcp-lease-committer.js';
import { clientBootInfo } from '../../src/protocols/dhcp/pxe.js';
import { requestMessage, type ReqSpec } from '../helpers/dhcp-packets.js';

const dbs: Db[] = [];
afterEach(() => {
  while (dbs.length) dbs.pop()!.close();
});

function setup(o: { range?: [string, string]; mode?: 'full' | 'proxy'; reserved?: Record<string, Reservation>; maxOffers?: number } = {}) {
  const cfg = buildConfig({
    data_dir: '/tmp/unused',
    admin_network: { interface: 'x', address: '10.5.0.1/24', domain: 'lab.test', router: '10.5.0.1' },
    services: {
      dhcp: {
        mode: o.mode ?? 'full',
        range_start: o.range?.[0] ?? '10.5.0.200',
        range_end: o.range?.[1] ?? '10.5.0.250',
        relays: [{ subnet: '172.20.1.0/24', range_start: '172.20.1.100', range_end: '172.20.1.110', router: '172.20.1.1' }],
      },
      http: { port: 8080, public_url: 'http://10.5.0.1:8080' },
    },
  });
  const db = openDatabase(':memory:');
  dbs.push(db);
  const clock = new ManualClock();
  const log = memoryLogger();
  const repo = new DhcpLeaseRepo(db);
  const table = new LeaseTable(repo, inlineCommitter(repo), clock, log, o.maxOffers ?? 1000, 0);
  const pools = poolsFromConfig(cfg);
  const reserved = o.reserved ?? {};
  const reservedAddrs = new Set(Object.values(reserved).map((r) => r.address));
  const policy = new LeasePolicy(
    {
      mode: o.mode ?? 'full',
      serverIp: '10.5.0.1',
      admin: pools.admin,
      relays: pools.relays,
      leaseSeconds: 600,
      offerHoldSeconds: 30,
      declineSeconds: 300,
      domain: 'lab.test',
      dnsServers: ['10.5.0.1'],
      ntpServers: [],
      boot: { publicUrl: 'http://10.5.0.1:8080', tftpServer: '10.5.0.1', efiLoader: 'snponly.efi' },
    },
    table,
    { lookup: (mac) => reserved[mac] ?? null, isReserved: (a) => reservedAddrs.has(a) },
    clock,
    log,
  );
  const ask = async (s: ReqSpec, listener: DhcpListener = 'dhcp'): Promise<DhcpAnswer | null> => {
    const msg = decodeMessage(encodeMessage(requestMessage(s)));
    const req: DhcpRequest = { msg, type: s.type, mac: chaddrString(msg), from: { address: '0.0.0.0', port: 68 }, listener };
    return await policy.answer(req);
  };
  const dora = async (mac: string, extra: Partial<ReqSpec> = {}): Promise<DhcpAnswer | null> => {
    const o1 = await ask({ type: MessageType.DISCOVER, mac, ...extra });
    if (!o1) return null;
    return ask({ type: MessageType.REQUEST, mac, serverId: '10.5.0.1', requested: o1.yiaddr, ...extra });
  };
  return { db, clock, log, repo, table, policy, ask, dora };
}

const MAC1 = '52:54:00:00:00:01';
const MAC2 = '52:54:00:00:00:02';

describe('dhcp policy: RFC 2131 §4.3', () => {
  it('DISCOVER -> OFFER from the pool with lease options; offers are held per client', async () => {
    const t = setup();
    const a = (await t.ask({ type: MessageType.DISCOVER, mac: MAC1 }))!;
    expect(a.type).toBe(MessageType.OFFER);
    expect(a.yiaddr).toBe('10.5.0.200');
    expect(optVal.readIp(a.options.get(Opt.SERVER_ID))).toBe('10.5.0.1');
    expect(optVal.readU32(a.options.get(Opt.LEASE_TIME))).toBe(600);
    expect(optVal.readIp(a.options.get(Opt.SUBNET_MASK))).toBe('255.255.255.0');
    expect(optVal.readIp(a.options.get(Opt.ROUTER))).toBe('10.5.0.1');
    const b = (await t.ask({ type: MessageType.DISCOVER, mac: MAC2 }))!;
    expect(b.yiaddr).not.toBe(a.yiaddr);
    // the same client asking again gets the same offer
    expect((await t.ask({ type: MessageType.DISCOVER, mac: MAC1 }))!.yiaddr).toBe(a.yiaddr);
    // a client asking for an address offered to someone else does not get it
    const c = (await t.ask({ type: MessageType.DISCOVER, mac: '52:54:00:00:00:03', requested: a.yiaddr }))!;
    expect(c.yiaddr).not.toBe(a.yiaddr);
  });

  it('SELECTING: ACK only after the lease is committed; other server id -> silent', async () => {
    const t = setup();
    const o = (await t.ask({ type: MessageType.DISCOVER, mac: MAC1 }))!;
    expect(await t.ask({ type: MessageType.REQUEST, mac: MAC1, serverId: '10.5.0.99', requested: o.yiaddr })).toBeNull();
    const ack = (await t.dora(MAC1))!;
    expect(ack.type).toBe(MessageType.ACK);
    const row = t.db.prepare('SELECT * FROM dhcp_leases WHERE mac = ?').get(MAC1) as any;
    expect(row.address).toBe(ack.yiaddr);
    expect(row.state).toBe('bound');
  });

  it('SELECTING for an address bound to another MAC -> NAK', async () => {
    const t = setup();
    const a = (await t.dora(MAC1))!;
    const n = (await t.ask({ type: MessageType.REQUEST, mac: MAC2, serverId: '10.5.0.1', requested: a.yiaddr }))!;
    expect(n.type).toBe(MessageType.NAK);
  });

  it('INIT-REBOOT: wrong subnet -> NAK, wrong address -> NAK, own lease -> ACK, unknown client -> silent', async () => {
    const t = setup();
    const a = (await t.dora(MAC1))!;
    expect((await t.ask({ type: MessageType.REQUEST, mac: MAC1, requested: '192.168.9.9' }))!.type).toBe(MessageType.NAK);
    expect((await t.ask({ type: MessageType.REQUEST, mac: MAC1, requested: '10.5.0.240' }))!.type).toBe(MessageType.NAK);
    expect((await t.ask({ type: MessageType.REQUEST, mac: MAC1, requested: a.yiaddr }))!.type).toBe(MessageType.ACK);
    expect(await t.ask({ type: MessageType.REQUEST, mac: MAC2, requested: '10.5.0.241' })).toBeNull();
  });

  it('RENEWING extends the lease; RELEASE frees it; the client gets its address back', async () => {
    const t = setup();
    const a = (await t.dora(MAC1))!;
    const before = (t.db.prepare('SELECT expires_at FROM dhcp_leases WHERE mac = ?').get(MAC1) as any).expires_at;
    t.clock.advance(100_000);
    const r = (await t.ask({ type: MessageType.REQUEST, mac: MAC1, ciaddr: a.yiaddr }))!;
    expect(r.type).toBe(MessageType.ACK);
    expect(r.yiaddr).toBe(a.yiaddr);
    expect((t.db.prepare('SELECT expires_at FROM dhcp_leases WHERE mac = ?').get(MAC1) as any).expires_at).toBe(before + 100_000);
    expect(await t.ask({ type: MessageType.RELEASE, mac: MAC1, ciaddr: a.yiaddr })).toBeNull();
    expect((t.db.prepare('SELECT state FROM dhcp_leases WHERE mac = ?').get(MAC1) as any).state).toBe('released');
    expect((await t.dora(MAC1))!.yiaddr).toBe(a.yiaddr);
  });

  it('DECLINE quarantines the address for declineSeconds', async () => {
    const t = setup({ range: ['10.5.0.200', '10.5.0.201'] });
    const a = (await t.dora(MAC1))!;
    expect(await t.ask({ type: MessageType.DECLINE, mac: MAC1, requested: a.yiaddr, serverId: '10.5.0.1' })).toBeNull();
    const row = t.db.prepare('SELECT * FROM dhcp_leases WHERE address = ?').get(a.yiaddr) as any;
    expect(row.state).toBe('declined');
    expect(row.mac).toBeNull();
    const b = (await t.dora(MAC1))!;
    expect(b.yiaddr).not.toBe(a.yiaddr);
    expect(await t.ask({ type: MessageType.DISCOVER, mac: MAC2 })).toBeNull(); // pool: one declined, one bound
    t.clock.advance(301_000);
    expect((await t.ask({ type: MessageType.DISCOVER, mac: MAC2 }))!.yiaddr).toBe(a.yiaddr);
  });

  it('INFORM -> ACK with configuration and no lease time', async () => {
    const t = setup();
    const a = (await t.ask({ type: MessageType.INFORM, mac: MAC1, ciaddr: '10.5.0.50' }))!;
    expect(a.type).toBe(MessageType.ACK);
    expect(a.yiaddr).toBe('0.0.0.0');
    expect(a.options.has(Opt.LEASE_TIME)).toBe(false);
    expect(a.options.has(Opt.DNS_SERVERS)).toBe(true);
  });

  it('leases expire: an expired lease of another MAC can be handed out', async () => {
    const t = setup({ range: ['10.5.0.200', '10.5.0.200'] });
    const a = (await t.dora(MAC1))!;
    expect(await t.ask({ type: MessageType.DISCOVER, mac: MAC2 })).toBeNull();
    t.clock.advance(601_000);
    const b = (await t.dora(MAC2))!;
    expect(b.type).toBe(MessageType.ACK);
    expect(b.yiaddr).toBe(a.yiaddr);
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM dhcp_leases').get()).toEqual({ n: 1 });
  });
});

describe('dhcp policy: reservations, relays, exhaustion, bounds', () => {
  it('a known node gets its reserved address and a hostname; a pool address is NAKed', async () => {
    const t = setup({ reserved: { [MAC1]: { address: '10.5.0.20', hostname: 'd52-54-00-00-00-01' } } });
    const a = (await t.dora(MAC1))!;
    expect(a.yiaddr).toBe('10.5.0.20');
    expect(optVal.readStr(a.options.get(Opt.HOSTNAME))).toBe('d52-54-00-00-00-01');
    expect((await t.ask({ type: MessageType.REQUEST, mac: MAC1, ciaddr: '10.5.0.201' }))!.type).toBe(MessageType.NAK);
    // nobody else is offered the reserved address even when asking for it
    const o = (await t.ask({ type: MessageType.DISCOVER, mac: MAC2, requested: '10.5.0.20' }))!;
    expect(o.yiaddr).not.toBe('10.5.0.20');
  });

  it('a client that becomes a known node moves from its pool lease to its reservation (one row per MAC)', async () => {
    const reserved: Record<string, Reservation> = {};
    const t = setup({ reserved });
    const a = (await t.dora(MAC1))!;
    expect(a.yiaddr).toBe('10.5.0.200');
    reserved[MAC1] = { address: '10.5.0.21', hostname: 'n21' };
    expect((await t.ask({ type: MessageType.REQUEST, mac: MAC1, ciaddr: a.yiaddr }))!.type).toBe(MessageType.NAK);
    expect((await t.dora(MAC1))!.yiaddr).toBe('10.5.0.21');
    expect(t.db.prepare('SELECT address FROM dhcp_leases WHERE mac = ?').all(MAC1)).toEqual([{ address: '10.5.0.21' }]);
    // the freed pool address goes to the next client
    expect((await t.dora(MAC2))!.yiaddr).toBe('10.5.0.201');
  });

  it('pool exhaustion is logged and known clients are still answered', async () => {
    const t = setup({ range: ['10.5.0.200', '10.5.0.201'], reserved: { [MAC1]: { address: '10.5.0.30', hostname: 'n1' } } });
    expect((await t.dora('02:00:00:00:00:01'))!.type).toBe(MessageType.ACK);
    expect((await t.dora('02:00:00:00:00:02'))!.type).toBe(MessageType.ACK);
    expect(await t.ask({ type: MessageType.DISCOVER, mac: '02:00:00:00:00:03' })).toBeNull();
    expect(t.log.records.some((r) => r.msg.includes('pool exhausted'))).toBe(true);
    expect((await t.dora(MAC1))!.yiaddr).toBe('10.5.0.30');
  });

  it('relayed requests are served from the pool of giaddr; unknown giaddr -> silent', async () => {
    const t = setup();
    const a = (await t.dora(MAC1, { giaddr: '172.20.1.1' }))!;
    expect(a.yiaddr).toBe('172.20.1.100');
    expect(optVal.readIp(a.options.get(Opt.ROUTER))).toBe('172.20.1.1');
    expect(await t.ask({ type: MessageType.DISCOVER, mac: MAC2, giaddr: '192.168.77.1' })).toBeNull();
  });

  it('a random-MAC flood cannot grow the offer table past its bound', async () => {
    const t = setup({ range: ['10.5.0.128', '10.5.0.254'], maxOffers: 16 });
    for (let i = 0; i < 500; i++) await t.ask({ type: MessageType.DISCOVER, mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` });
    expect(t.table.offerCount).toBeLessThanOrEqual(16);
    expect(t.table.stats.offersEvicted).toBeGreaterThan(0);
  });

  it('the database refuses to bind an address held by another MAC (UNIQUE + guarded upsert)', () => {
    const t = setup();
    const now = t.clock.now();
    const row = { address_int: 1, address: '0.0.0.1', pool: 'admin', mac: MAC1, state: 'bound' as const, expires_at: now + 1000, updated_at: now, hostname: null };
    expect(t.repo.applyBatch([{ kind: 'bind', row, force: false }])).toEqual([null]);
    const res = t.repo.applyBatch([
      { kind: 'bind', row: { ...row, mac: MAC2 }, force: false },
      { kind: 'bind', row: { ...row, address_int: 2, address: '0.0.0.2', mac: MAC2 }, force: false },
    ]);
    expect(res[0]?.message).toMatch(/bound to another MAC/);
    expect(res[1]).toBeNull();
    expect(t.repo.get(1)!.mac).toBe(MAC1);
  });
});

describe('dhcp policy: PXE boot and proxy mode', () => {
  const pxe = (arch: number, vc = `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`) => [
    [Opt.VENDOR_CLASS, optVal.str(vc)],
    [Opt.CLIENT_ARCH, optVal.u16(arch)],
  ] as Array<[number, Buffer]>;

  it('boot file by architecture, UEFI HTTP, and iPXE script URL', async () => {
    const t = setup();
    const bios = (await t.ask({ type: MessageType.DISCOVER, mac: MAC1, extra: pxe(0) }))!;
    expect(bios.file).toBe('undionly.kpxe');
    expect(bios.siaddr).toBe('10.5.0.1');
    expect(optVal.readStr(bios.options.get(Opt.BOOTFILE))).toBe('undionly.kpxe');
    expect(optVal.readStr(bios.options.get(Opt.TFTP_SERVER))).toBe('10.5.0.1');
    expect(optVal.readStr(bios.options.get(Opt.VENDOR_CLASS))).toBe('PXEClient');
    expect(bios.options.has(Opt.VENDOR_SPECIFIC)).toBe(true);
    expect((await t.ask({ type: MessageType.DISCOVER, mac: MAC1, extra: pxe(7) }))!.file).toBe('snponly.efi');
    const http = (await t.ask({ type: MessageType.DISCOVER, mac: MAC1, extra: pxe(16, 'HTTPClient:Arch:00016:UNDI:003016') }))!;
    expect(http.file).toBe('http://10.5.0.1:8080/boot/files/ipxe.efi');
    expect(optVal.readStr(http.options.get(Opt.VENDOR_CLASS))).toBe('HTTPClient');
    const ipxe = (await t.ask({ type: MessageType.DISCOVER, mac: MAC1, extra: [...pxe(0), [Opt.USER_CLASS, optVal.str('iPXE')]] }))!;
    expect(ipxe.file).toBe('http://10.5.0.1:8080/boot/node/52-54-00-00-00-01.ipxe');
    const plain = (await t.ask({ type: MessageType.DISCOVER, mac: MAC1 }))!;
    expect(plain.file).toBeUndefined();
  });

  it('chooses the first bootable arch of a list; unknown arch -> none', () => {
    const s = { publicUrl: 'http://x', tftpServer: '10.0.0.1', efiLoader: 'ipxe.efi' as const };
    const info = (arches: number[]) => ({ ...clientBootInfo(new Map([[Opt.VENDOR_CLASS, optVal.str('PXEClient')]])), arches });
    expect(chooseBoot(info([11, 9]), MAC1, s)!.file).toBe('ipxe.efi');
    expect(chooseBoot(info([11]), MAC1, s)).toBeNull();
  });

  it('proxy mode: boot information without an address on 67 and 4011; non-PXE clients ignored', async () => {
    const t = setup({ mode: 'proxy' });
    const uuid = Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0xab)]);
    const o = (await t.ask({ type: MessageType.DISCOVER, mac: MAC1, extra: [...pxe(0), [Opt.CLIENT_UUID, uuid]] }))!;
    expect(o.type).toBe(MessageType.OFFER);
    expect(o.yiaddr).toBe('0.0.0.0');
    expect(o.file).toBe('undionly.kpxe');
    expect(o.options.get(Opt.CLIENT_UUID)!.equals(uuid)).toBe(true);
    expect(o.options.has(Opt.LEASE_TIME)).toBe(false);
    expect(await t.ask({ type: MessageType.DISCOVER, mac: MAC2 })).toBeNull();
    expect(await t.ask({ type: MessageType.REQUEST, mac: MAC1, serverId: '10.5.0.1', requested: '10.5.0.9', extra: pxe(0) })).toBeNull();
    const ack = (await t.ask({ type: MessageType.REQUEST, mac: MAC1, ciaddr: '10.5.0.9', extra: pxe(7) }, 'pxe'))!;
    expect(ack.type).toBe(MessageType.ACK);
    expect(ack.file).toBe('snponly.efi');
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM dhcp_leases').get()).toEqual({ n: 0 });
  });
});
