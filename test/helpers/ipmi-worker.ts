/**
 * A worker process for IPMI integration tests, started inside a test network
 * namespace (Node cannot switch namespaces itself). It reads JSON lines
 * {id, op, ...} on stdin and answers {id, ok, result | error} on stdout.
 * Ops: init (in-process appliance), createNode, inject (HTTP API), client
 * (our RMCP+ client directly), fakeBmc (a fake BMC on this namespace's
 * loopback), logs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildConfig } from '../../src/config/load.js';
import { createAppliance, type Appliance } from '../../src/main.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { isCrowbarError } from '../../src/lib/errors.js';
import { withSession, type IpmiTarget } from '../../src/ipmi/client.js';
import { dgramSocketFactory } from '../../src/ipmi/transport.js';
import * as cmd from '../../src/ipmi/commands.js';
import { startFakeBmc, type FakeMode } from './fakebmc.js';

let app: Appliance | undefined;
let token = '';
const log = memoryLogger();

async function clientSteps(target: IpmiTarget, steps: string[], o: { timeoutMs?: number; retries?: number }): Promise<unknown[]> {
  return withSession(target, { sockets: dgramSocketFactory, timeoutMs: o.timeoutMs ?? 500, retries: o.retries ?? 3 }, async (s) => {
    const out: unknown[] = [];
    for (const st of steps) {
      const [name, arg] = st.split(':');
      if (name === 'deviceId') out.push(await cmd.getDeviceId(s));
      else if (name === 'status') out.push((await cmd.getChassisStatus(s)).powerOn ? 'on' : 'off');
      else if (name === 'control') out.push(await cmd.chassisControl(s, arg as cmd.ChassisAction));
      else if (name === 'bootdev') out.push(await cmd.setBootDevice(s, { device: arg as 'pxe', persistent: false, efi: false }));
      else if (name === 'bootflags') out.push(await cmd.getBootFlags(s));
      else if (name === 'lan') out.push(await cmd.getLanAddress(s, 1));
      else if (name === 'setLan') {
        const [ip, netmask, gateway] = arg.split(',');
        out.push(await cmd.setLanAddress(s, 1, { ip, netmask, gateway }));
      } else if (name === 'setUser') {
        const [id, uname, pw] = arg.split(',');
        out.push(await cmd.configureUser(s, { channel: 1, userId: Number(id), name: uname, password: pw }));
      }
      else if (name === 'sleep') await new Promise((r) => setTimeout(r, Number(arg)));
      else throw new Error(`unknown step ${st}`);
    }
    return out;
  });
}

async function handle(m: Record<string, any>): Promise<unknown> {
  switch (m.op) {
    case 'init': {
      const dir = mkdtempSync(join(tmpdir(), 'crowbar-ipmi-worker-'));
      app = await createAppliance(buildConfig({ data_dir: dir, admin_network: { interface: 'lo', address: '127.0.0.1/8' }, ...m.config }), { log });
      token = app.initialAdminToken!;
      return { dir };
    }
    case 'createNode':
      return app!.nodes.create([m.mac], { domain: 'crowbar.test' });
    case 'inject': {
      const t0 = Date.now();
      const r = await app!.http.inject({ method: m.method, url: m.url, payload: m.payload, headers: { authorization: `Bearer ${token}` } });
      return { status: r.statusCode, body: JSON.parse(r.payload || 'null'), t0, t1: Date.now() };
    }
    case 'client':
      return clientSteps(m.target, m.steps, m);
    case 'fakeBmc': {
      const b = await startFakeBmc({ mode: m.mode as FakeMode, password: m.password });
      return { host: b.host, port: b.port };
    }
    case 'logs':
      return log.records;
    default:
      throw new Error(`unknown op ${m.op}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let m: Record<string, any>;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  handle(m).then(
    (result) => process.stdout.write(JSON.stringify({ id: m.id, ok: true, result }) + '\n'),
    (e) => process.stdout.write(JSON.stringify({ id: m.id, ok: false, error: { code: isCrowbarError(e) ? e.code : 'error', message: String(e?.message ?? e) } }) + '\n'),
  );
});
rl.on('close', () => process.exit(0));
process.stdout.write(JSON.stringify({ id: 0, ok: true, result: 'ready' }) + '\n');
