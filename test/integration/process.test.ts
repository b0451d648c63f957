/** The `crowbar serve` process: start, SIGTERM, fatal errors, config errors, systemd unit. */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, removeDataDir, startAppliance } from '../helpers/appliance.js';
import { have } from '../helpers/netns.js';

function serve(configPath: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', configPath], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('crowbar serve', () => {
  it('stops on SIGTERM within 5 s with exit code 0', async () => {
    const app = await startAppliance();
    const t0 = Date.now();
    const code = await app.stop();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(code).toBe(0);
    expect(app.output()).toMatch(/signal received, stopping/);
    removeDataDir(app.dataDir);
  });

  it('exits non-zero naming the key for a bad config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-cfg-'));
    const p = join(dir, 'c.yaml');
    writeFileSync(p, `data_dir: ${dir}\nservices:\n  tftp:\n    port: 99999\n`);
    const r = serve(p);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/services\.tftp\.port: must be <= 65535/);
    writeFileSync(p, `data_dir: ${dir}\nadmin_network:\n  adress: 10.0.0.1/24\n`);
    const r2 = serve(p);
    expect(r2.code).toBe(1);
    expect(r2.out).toMatch(/admin_network\.adress: unknown key/);
    removeDataDir(dir);
  });

  it('stops everything with a non-zero exit and a clear message when a service cannot start', async () => {
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
    const port = (blocker.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'cb-fatal-'));
    const p = join(dir, 'c.json');
    writeFileSync(
      p,
      JSON.stringify({
        data_dir: dir,
        admin_network: { interface: 'lo', address: '127.0.0.1/8' },
        services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { bind: '127.0.0.1', port } },
      }),
    );
    const r = serve(p);
    blocker.close();
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/http failed to start: .*EADDRINUSE/);
    removeDataDir(dir);
  });

  it.skipIf(!have('systemd-analyze'))('ships a systemd unit that systemd-analyze verify accepts', () => {
    // verify wants ExecStart's binary to exist: check a copy pointing at this checkout.
    const dir = mkdtempSync(join(tmpdir(), 'cb-unit-'));
    const unit = execFileSync('cat', [join(ROOT, 'systemd/crowbar.service')], { encoding: 'utf8' }).replace('/opt/crowbar/bin/crowbar', join(ROOT, 'bin/crowbar'));
    writeFileSync(join(dir, 'crowbar.service'), unit);
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'crowbar.service')], { encoding: 'utf8' });
    const complaints = (r.stdout + r.stderr)
      .split('\n')
      .filter((l) => l.includes('crowbar.service'))
      .join('\n');
    expect(complaints).toBe('');
    expect(r.status).toBe(0);
    removeDataDir(dir);
  });
});
