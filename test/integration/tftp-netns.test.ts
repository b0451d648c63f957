/**
 * The appliance's TFTP service inside a network namespace, with random packet
 * loss injected by nftables in that namespace (tc netem is not available):
 * tftp-hpa, curl and atftp (windowsize) transfers of 1 MiB complete intact.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppliance, removeDataDir, nextPort, type RunningAppliance } from '../helpers/appliance.js';
import { canUseNetns, createNetnsPair, have, type NetnsPair } from '../helpers/netns.js';
import { datagramKinds } from '../helpers/tftp-datagram.js';

const ok = canUseNetns() && have('nft') && have('tftp') && have('atftp') && have('curl');
let pair: NetnsPair;
let app: RunningAppliance;
let dir: string;
let want: string;

function runIn(ns: string, cmd: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = pair.spawn(ns, cmd);
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

// Once per transfer datagram path (native addon and node:dgram).
describe.skipIf(!ok).each(datagramKinds())('TFTP in a namespace under packet loss (datagram path %s)', (kind) => {
  beforeAll(async () => {
    pair = createNetnsPair();
    dir = mkdtempSync(join(tmpdir(), 'crowbar-tftploss-'));
    const root = join(dir, 'tftp');
    mkdirSync(root);
    const b = Buffer.alloc(1024 * 1024 + 7);
    for (let i = 0; i < b.length; i++) b[i] = (i * 40503) >>> 8;
    writeFileSync(join(root, 'one.bin'), b);
    want = sha(join(root, 'one.bin'));
    // Drop 1 in 200 UDP datagrams in each direction, in the server namespace only.
    pair.exec(pair.srv, ['nft', '-f', '-'], {
      input: `table inet cbtloss {
  chain in { type filter hook input priority 0; udp dport != 69 numgen random mod 200 < 1 counter drop; }
  chain out { type filter hook output priority 0; udp sport != 69 numgen random mod 200 < 1 counter drop; }
}\n`,
    });
    app = await startAppliance({
      netns: pair.srv,
      config: {
        admin_network: { interface: pair.srvIf, address: `${pair.srvIp}/24` },
        services: {
          tftp: { enabled: true, bind: pair.srvIp, port: 69, root, timeout_ms: 100, max_timeout_ms: 400, retries: 10, datagram: kind },
          http: { bind: pair.srvIp, port: nextPort() },
        },
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
    if (app) removeDataDir(app.dataDir);
    pair?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('1 MiB transfers complete with tftp-hpa, curl and atftp windowsize 16 despite loss', async () => {
    const out = (n: string) => join(dir, n);
    const runs: Array<[string, string[]]> = [
      ['hpa', ['tftp', '-m', 'binary', pair.srvIp, '-c', 'get', 'one.bin', out('hpa')]],
      ['curl', ['curl', '-sS', '--max-time', '50', '--tftp-blksize', '1468', '-o', out('curl'), `tftp://${pair.srvIp}/one.bin`]],
      ['atftp', ['atftp', '-g', '-r', 'one.bin', '-l', out('atftp'), '--option', 'blksize 1468', '--option', 'windowsize 16', '--option', 'tsize 0', pair.srvIp]],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [name, cmd] of runs) {
        const r = await runIn(pair.cli, cmd);
        expect(r.code, `${name}: ${r.out}`).toBe(0);
        expect(sha(out(name)), name).toBe(want);
      }
    }
    const dropped = pair.exec(pair.srv, ['nft', 'list', 'table', 'inet', 'cbtloss']);
    const counts = [...dropped.matchAll(/packets (\d+)/g)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // the server saw the loss and retransmitted, on the datagram path under test
    expect(app.output()).toMatch(/"retransmits":[1-9]/);
    expect(app.output()).toContain(kind === 'native' ? 'transfers use the native datagram path' : 'transfers use node:dgram');
  }, 120_000);

  it('serves /boot/files over HTTP inside the namespace', async () => {
    const http = (JSON.parse(readFileSync(app.configPath, 'utf8')) as { services: { http: { port: number } } }).services.http.port;
    const r = await runIn(pair.cli, ['curl', '-sS', '--max-time', '20', '-o', join(dir, 'http.out'), `http://${pair.srvIp}:${http}/boot/files/one.bin`]);
    expect(r.code, r.out).toBe(0);
    expect(sha(join(dir, 'http.out'))).toBe(want);
  });
});
