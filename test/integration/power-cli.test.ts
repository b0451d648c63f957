/**
 * The `crowbar power|bootdev|bmc` verbs against a real `crowbar serve`
 * process on loopback, with a fake BMC on loopback: the BMC password goes in
 * on stdin, power and boot device act on the BMC, errors exit non-zero, and
 * the appliance's log and key file behave.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, runCli, startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { startFakeBmc, type FakeBmc } from '../helpers/fakebmc.js';

let app: RunningAppliance;
let bmc: FakeBmc;
// Asynchronous: the fake BMC lives in this process and must keep answering.
const cli = (args: string[], input?: string) => runCli(args, { CROWBAR_URL: app.baseUrl, CROWBAR_TOKEN: app.token }, input ?? '');

beforeAll(async () => {
  bmc = await startFakeBmc({ password: 'Cli-Secret-Pw-1' });
  app = await startAppliance({ config: { services: { power: { poll_interval_ms: 50, ipmi: { timeout_ms: 200, retries: 2 } } } } });
});
afterAll(async () => {
  await app?.stop();
  await bmc?.close();
  if (app) removeDataDir(app.dataDir);
});

describe('crowbar power CLI', () => {
  it('bmc (password on stdin), power on/status, bootdev; bad input exits non-zero', async () => {
    const created = await app.api('/api/v1/nodes', { body: { macs: ['52:54:00:cc:00:01'] } });
    expect(created.status).toBe(201);
    const name = created.body.name ?? created.body.node?.name;
    const b = await cli(['bmc', name, '--address', `${bmc.host}:${bmc.port}`, '--user', 'admin', '--driver', 'ipmi', '--password-stdin'], 'Cli-Secret-Pw-1\n');
    expect(b.status, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ bmc_password_set: true, power_driver: 'ipmi' });
    expect(b.stdout).not.toContain('Cli-Secret-Pw-1');
    const on = await cli(['power', name, 'on']);
    expect(on.status, on.stderr).toBe(0);
    expect(JSON.parse(on.stdout)).toMatchObject({ state: 'on', reached: true });
    expect(bmc.power).toBe(true);
    expect(JSON.parse((await cli(['power', name, 'status'])).stdout)).toMatchObject({ state: 'on' });
    const bd = await cli(['bootdev', name, 'disk', '--persistent', '--efi']);
    expect(bd.status, bd.stderr).toBe(0);
    expect(bmc.boot).toEqual(Buffer.from([0xe0, 0x08, 0, 0, 0]));
    const bad = await cli(['power', name, 'explode']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('400');
    expect((await cli(['power', name])).status).toBe(2);
    expect(app.output()).not.toContain('Cli-Secret-Pw-1');
    expect(statSync(join(app.dataDir, 'keys', 'bmc.key')).mode & 0o777).toBe(0o600);
  });
});
