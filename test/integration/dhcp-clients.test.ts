/**
 * The DHCP server against real clients (busybox udhcpc, ISC dhclient) and a
 * scripted relay/PXE peer, in network namespaces this test creates.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType, Opt } from '../../src/protocols/dhcp/constants.js';
import { openDatabase } from '../../src/store/db.js';
import { NodeRepo } from '../../src/store/nodes.js';
import { AllocationRepo } from '../../src/store/allocations.js';
import { canUseNetns, createNetnsPair, have, type NetnsPair } from '../helpers/netns.js';
import { nextPort, removeDataDir, ROOT, startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import type { ProbeReply, ProbeSpec } from '../helpers/dhcp-probe.js';

const ok = canUseNetns() && have('udhcpc') && have('dhclient');
const RESERVED_MAC = '52:54:00:c0:ff:ee';

/** Run the probe in a namespace; returns the replies it saw. */
function probe(pair: NetnsPair, ns: string, spec: ProbeSpec): ProbeReply[] {
  const out = pair.exec(ns, [process.execPath, '--import', 'tsx', join(ROOT, 'test/helpers/dhcp-probe.ts'), JSON.stringify(spec)], { timeoutMs: 30_000 });
  return JSON.parse(out.trim().split('\n').pop()!) as ProbeReply[];
}

const hex = (s: string) => Buffer.from(s).toString('hex');

describe.skipIf(!ok)('dhcp with real clients in a netns', () => {
  let pair: NetnsPair;
  let app: RunningAppliance;
  let work: string;
  let dataDir: string;
  let httpPort: number;
  let udhcpcScript: string;
  let dhclientScript: string;
  const kids: ChildProcess[] = [];

  const setMac = (mac: string) => pair.exec(pair.cli, ['ip', 'link', 'set', 'dev', pair.cliIf, 'address', mac]);
  const dbRead = <T>(sql: string, ...args: unknown[]): T => {
    const db = new Database(join(dataDir, 'crowbar.db'), { readonly: true });
    try {
      return db.prepare(sql).get(...args) as T;
    } finally {
      db.close();
    }
  };
  /** Events written by the udhcpc script: [{event, env}] */
  const events = (file: string): Array<Record<string, string>> =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, string>)
      : [];
  const waitFor = async (cond: () => boolean, ms: number, what: string) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (cond()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}\n${app.output().slice(-3000)}`);
  };
  /** One-shot udhcpc (-q: quit after lease) with extra args; returns the bound event env. */
  const udhcpcOnce = (tag: string, args: string[]): Record<string, string> | undefined => {
    const file = join(work, `${tag}.events`);
    pair.exec(pair.cli, ['env', `EVENTS=${file}`, 'udhcpc', '-i', pair.cliIf, '-f', '-q', '-n', '-t', '4', '-T', '1', '-A', '1', '-s', udhcpcScript, ...args], { timeoutMs: 20_000 });
    return events(file).find((e) => e.event === 'bound');
  };

  beforeAll(async () => {
    pair = createNetnsPair();
    work = mkdtempSync(join(tmpdir(), 'crowbar-dhcp-it-'));
    dataDir = join(work, 'data');
    udhcpcScript = join(work, 'udhcpc.sh');
    // udhcpc event script: record the environment as JSON, configure the leased address.
    writeFileSync(
      udhcpcScript,
      `#!/bin/sh
printf '{"event":"%s","ip":"%s","mask":"%s","siaddr":"%s","boot_file":"%s","bootfile":"%s","sname":"%s","tftp":"%s","serverid":"%s","lease":"%s","hostname":"%s","router":"%s"}\\n' \\
  "$1" "$ip" "$subnet" "$siaddr" "$boot_file" "$bootfile" "$sname" "$tftp" "$serverid" "$lease" "$hostname" "$router" >> "$EVENTS"
case "$1" in bound|renew) ip addr replace "$ip/$subnet" dev "$interface" ;; esac
exit 0
`,
    );
    chmodSync(udhcpcScript, 0o755);
    dhclientScript = join(work, 'dhclient.sh');
    writeFileSync(
      dhclientScript,
      `#!/bin/sh
echo "$reason $new_ip_address $new_subnet_mask" >> "${join(work, 'dhclient.events')}"
case "$reason" in BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;; esac
exit 0
`,
    );
    chmodSync(dhclientScript, 0o755);
    // A known node with an admin allocation, created through the store before the server starts.
    const db = openDatabase(join(dataDir, 'crowbar.db'));
    const nodes = new NodeRepo(db);
    const n = nodes.create({ name: 'd52-54-00-c0-ff-ee.crowbar.test', macs: [RESERVED_MAC], state: 'discovered', cause: 'test' }, Date.now());
    const subnet = pair.srvIp.replace(/\.1$/, '');
    new AllocationRepo(db).allocate('admin', n.id, { start: `${subnet}.10`, end: `${subnet}.100` }, Date.now(), `${subnet}.42`);
    db.close();
    // a relayed subnet behind the client namespace (the "relay" is the probe there)
    pair.exec(pair.cli, ['ip', 'addr', 'add', '172.31.9.1/24', 'dev', pair.cliIf]);
    pair.exec(pair.srv, ['ip', 'route', 'add', '172.31.9.0/24', 'via', pair.cliIp]);
    httpPort = nextPort();
    app = await startAppliance({
      netns: pair.srv,
      dataDir,
      config: {
        admin_network: { interface: pair.srvIf, address: `${pair.srvIp}/24`, domain: 'crowbar.test' },
        services: {
          dhcp: { enabled: true, lease_seconds: 20, relays: [{ subnet: '172.31.9.0/24', range_start: '172.31.9.100', range_end: '172.31.9.120', router: '172.31.9.1' }] },
          http: { bind: '127.0.0.1', port: httpPort, public_url: `http://${pair.srvIp}:${httpPort}` },
        },
      },
    });
  });

  afterAll(async () => {
    for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL');
    await app?.stop();
    pair?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
    void removeDataDir;
  });

  it('udhcpc gets a lease, renews it (SIGUSR1) and releases it (SIGUSR2)', async () => {
    setMac('52:54:00:00:10:01');
    const file = join(work, 'udhcpc-life.events');
    const p = pair.spawn(pair.cli, ['env', `EVENTS=${file}`, 'udhcpc', '-i', pair.cliIf, '-f', '-t', '5', '-T', '1', '-s', udhcpcScript]);
    kids.push(p);
    await waitFor(() => events(file).some((e) => e.event === 'bound'), 15_000, 'udhcpc bound');
    const bound = events(file).find((e) => e.event === 'bound')!;
    expect(bound.ip).toMatch(/\.(1[2-9]\d|2[0-4]\d|25[0-4])$/); // upper half of the /24 = the pool
    expect(bound.serverid).toBe(pair.srvIp);
    expect(bound.lease).toBe('20');
    expect(dbRead<any>('SELECT state, mac FROM dhcp_leases WHERE address = ?', bound.ip)).toEqual({ state: 'bound', mac: '52:54:00:00:10:01' });
    const exp1 = dbRead<any>('SELECT expires_at FROM dhcp_leases WHERE address = ?', bound.ip).expires_at;
    await new Promise((r) => setTimeout(r, 1100));
    p.kill('SIGUSR1');
    await waitFor(() => events(file).some((e) => e.event === 'renew'), 10_000, 'udhcpc renew');
    expect(events(file).find((e) => e.event === 'renew')!.ip).toBe(bound.ip);
    expect(dbRead<any>('SELECT expires_at FROM dhcp_leases WHERE address = ?', bound.ip).expires_at).toBeGreaterThan(exp1);
    p.kill('SIGUSR2');
    await waitFor(() => dbRead<any>('SELECT state FROM dhcp_leases WHERE address = ?', bound.ip).state === 'released', 10_000, 'release in the lease table');
    p.kill('SIGTERM');
  });

  it('dhclient gets a lease, renews at T1 and releases (-r)', async () => {
    setMac('52:54:00:00:10:02');
    const pf = join(work, 'dhclient.pid');
    const lf = join(work, 'dhclient.leases');
    const evf = join(work, 'dhclient.events');
    const p = pair.spawn(pair.cli, ['dhclient', '-4', '-d', '-sf', dhclientScript, '-pf', pf, '-lf', lf, pair.cliIf]);
    kids.push(p);
    const lines = () => (existsSync(evf) ? readFileSync(evf, 'utf8').split('\n').filter(Boolean) : []);
    await waitFor(() => lines().some((l) => l.startsWith('BOUND ')), 20_000, 'dhclient BOUND');
    const ip = lines().find((l) => l.startsWith('BOUND '))!.split(' ')[1];
    expect(dbRead<any>('SELECT mac FROM dhcp_leases WHERE address = ?', ip).mac).toBe('52:54:00:00:10:02');
    // lease 20 s -> T1 10 s: dhclient renews by unicast to the server (RENEWING)
    await waitFor(() => lines().some((l) => l.startsWith('RENEW ')), 20_000, 'dhclient RENEW');
    expect(lines().find((l) => l.startsWith('RENEW '))!.split(' ')[1]).toBe(ip);
    pair.exec(pair.cli, ['dhclient', '-4', '-r', '-sf', dhclientScript, '-pf', pf, '-lf', lf, pair.cliIf], { timeoutMs: 15_000 });
    await waitFor(() => dbRead<any>('SELECT state FROM dhcp_leases WHERE address = ?', ip).state === 'released', 10_000, 'dhclient release');
    if (p.exitCode === null) p.kill('SIGTERM');
  });

  it('PXE ROMs get their loader: UEFI x64 -> snponly.efi, BIOS -> undionly.kpxe; iPXE -> the node script URL', () => {
    setMac('52:54:00:00:10:03');
    const efi = udhcpcOnce('pxe-efi', ['-V', 'PXEClient:Arch:00007:UNDI:003016', '-x', '0x5d:0007'])!;
    expect(efi.boot_file).toBe('snponly.efi');
    expect(efi.siaddr).toBe(pair.srvIp);
    expect(efi.bootfile).toBe('snponly.efi');
    expect(efi.tftp).toBe(pair.srvIp);
    const bios = udhcpcOnce('pxe-bios', ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000'])!;
    expect(bios.boot_file).toBe('undionly.kpxe');
    const ipxe = udhcpcOnce('ipxe', ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x4d:' + hex('iPXE')])!;
    expect(ipxe.boot_file).toBe(`http://${pair.srvIp}:${httpPort}/boot/node/52-54-00-00-10-03.ipxe`);
    const plain = udhcpcOnce('plain', [])!;
    expect(plain.boot_file).toBe('');
  });

  it('a reserved MAC (known node) gets its admin allocation', () => {
    setMac(RESERVED_MAC);
    const b = udhcpcOnce('reserved', [])!;
    expect(b.ip).toBe(pair.srvIp.replace(/\.1$/, '.42'));
    expect(b.hostname).toBe('d52-54-00-c0-ff-ee');
  });

  it('a relayed DISCOVER/REQUEST is answered at giaddr:67 from the relayed pool, option 82 echoed', () => {
    const mac = '52:54:00:00:10:05';
    const rai = '0104' + hex('eth9');
    const replies = probe(pair, pair.cli, {
      bind: { address: '0.0.0.0', port: 67 },
      steps: [
        { to: { address: pair.srvIp, port: 67 }, req: { type: MessageType.DISCOVER, mac, giaddr: '172.31.9.1', extra: [[Opt.RELAY_AGENT_INFO, rai]] }, waitMs: 3000, expect: 1 },
        { to: { address: pair.srvIp, port: 67 }, req: { type: MessageType.REQUEST, mac, giaddr: '172.31.9.1', serverId: pair.srvIp, requested: '$yiaddr' }, waitMs: 3000, expect: 1 },
      ],
    });
    expect(replies.map((r) => r.type)).toEqual([MessageType.OFFER, MessageType.ACK]);
    for (const r of replies) {
      expect(r.from).toBe(pair.srvIp);
      expect(r.fromPort).toBe(67);
      expect(r.giaddr).toBe('172.31.9.1');
      expect(r.yiaddr).toMatch(/^172\.31\.9\.(1[01]\d|120)$/);
    }
    expect(replies[0].options![String(Opt.RELAY_AGENT_INFO)]).toBe(rai);
    expect(replies[0].options![String(Opt.ROUTER)]).toBe('ac1f0901');
  });

  it('malformed packets get no reply and do not stop the server; the next client is served', async () => {
    const good = Buffer.from(readFileSync(join(ROOT, 'test/fixtures/dhcp/udhcpc-discover.hex'), 'utf8').trim(), 'hex');
    const noCookie = Buffer.from(good);
    noCookie.writeUInt32BE(0, 236);
    const badLen = Buffer.from(good.subarray(0, 250));
    badLen.set([53, 1, 1, 12, 200], 240); // option 12 claims 200 bytes, 5 remain
    const hugeHlen = Buffer.from(good);
    hugeHlen[2] = 255;
    const noType = Buffer.from(good);
    noType.fill(0, 240);
    noType[240] = 255;
    const random = Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 7919 + 13) & 255));
    const bads = [good.subarray(0, 100), good.subarray(0, 239), noCookie, badLen, hugeHlen, noType, random, Buffer.alloc(1)];
    const replies = probe(pair, pair.cli, {
      bind: { address: '0.0.0.0', port: 68 },
      steps: bads.map((b, i) => ({ to: { address: pair.srvIp, port: 67 }, hex: b.toString('hex'), waitMs: i === bads.length - 1 ? 1500 : 50 })),
    });
    expect(replies).toEqual([]);
    expect(app.proc.exitCode).toBeNull();
    await waitFor(() => /malformed packet dropped/.test(app.output()), 5000, 'malformed log line');
    setMac('52:54:00:00:10:06');
    expect(udhcpcOnce('after-junk', [])?.ip).toBeTruthy();
  });
});

describe.skipIf(!ok)('dhcp proxy mode in a netns', () => {
  let pair: NetnsPair;
  let app: RunningAppliance;

  beforeAll(async () => {
    pair = createNetnsPair();
    app = await startAppliance({
      netns: pair.srv,
      config: {
        admin_network: { interface: pair.srvIf, address: `${pair.srvIp}/24`, domain: 'crowbar.test' },
        services: { dhcp: { enabled: true, mode: 'proxy' }, http: { bind: '127.0.0.1', port: nextPort() } },
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
    if (app) removeDataDir(app.dataDir);
    pair?.cleanup();
  });

  it('answers a PXE DISCOVER with boot information and no address, and a 4011 REQUEST with an ACK', () => {
    const mac = '52:54:00:00:20:01';
    const pxe: Array<[number, string]> = [
      [Opt.VENDOR_CLASS, hex('PXEClient:Arch:00000:UNDI:002001')],
      [Opt.CLIENT_ARCH, '0000'],
      [Opt.CLIENT_UUID, '00' + 'ab'.repeat(16)],
    ];
    const replies = probe(pair, pair.cli, {
      bind: { address: '0.0.0.0', port: 68 },
      steps: [
        { to: { address: pair.srvIp, port: 67 }, req: { type: MessageType.DISCOVER, mac, extra: pxe }, waitMs: 3000, expect: 1 },
        { to: { address: pair.srvIp, port: 67 }, req: { type: MessageType.DISCOVER, mac: '52:54:00:00:20:02' }, waitMs: 800 },
        { to: { address: pair.srvIp, port: 4011 }, req: { type: MessageType.REQUEST, mac, ciaddr: pair.cliIp, extra: pxe }, waitMs: 3000, expect: 1 },
      ],
    });
    expect(replies.map((r) => [r.step, r.type])).toEqual([
      [0, MessageType.OFFER],
      [2, MessageType.ACK],
    ]);
    const [offer, ack] = replies;
    expect(offer.yiaddr).toBe('0.0.0.0');
    expect(offer.file).toBe('undionly.kpxe');
    expect(offer.siaddr).toBe(pair.srvIp);
    expect(offer.options![String(Opt.VENDOR_CLASS)]).toBe(hex('PXEClient'));
    expect(offer.options![String(Opt.CLIENT_UUID)]).toBe('00' + 'ab'.repeat(16));
    expect(offer.options![String(Opt.LEASE_TIME)]).toBeUndefined();
    expect(ack.yiaddr).toBe('0.0.0.0');
    expect(ack.file).toBe('undionly.kpxe');
    expect(ack.fromPort).toBe(4011);
    void execFileSync;
  });
});
