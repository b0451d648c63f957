/**
 * An appliance configured for the simulator (docs/simulator.md): admin
 * network 127.0.0.0/16 with node addresses 127.0.1.1-127.0.127.254 and the
 * dynamic DHCP pool 127.0.128.1-127.0.255.254, DHCP/TFTP/HTTP on 127.0.0.1
 * high ports, a small placeholder discovery image (the simulator reads only a
 * byte budget of it), and a simulation wired to it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextPort, removeDataDir, startAppliance, type RunningAppliance } from './appliance.js';
import { startSimulation } from '../../src/main.js';
import type { Simulation, SimulateOptions } from '../../src/sim/simulator.js';

/** Ports of a simulator appliance. */
export interface SimAppliance {
  app: RunningAppliance;
  dhcpPort: number;
  tftpPort: number;
  /** Stop the appliance and remove its data and image directories. */
  stop(): Promise<void>;
}

/** Start an appliance for simulation. */
export async function startSimAppliance(extra: Record<string, unknown> = {}): Promise<SimAppliance> {
  // one directory for the data dir and the placeholder image, removed by stop()
  const root = mkdtempSync(join(tmpdir(), 'crowbar-sim-'));
  const img = join(root, 'img');
  const dataDir = join(root, 'data');
  mkdirSync(img);
  mkdirSync(dataDir);
  writeFileSync(join(img, 'vmlinuz'), randomBytes(256 * 1024));
  writeFileSync(join(img, 'initrd.img'), randomBytes(512 * 1024));
  const dhcpPort = nextPort() + 3000;
  const tftpPort = nextPort() + 3000;
  const app = await startAppliance({
    dataDir,
    config: {
      log_level: 'warn',
      admin_network: { interface: 'lo', address: '127.0.0.1/16', domain: 'sim.test', host_range_start: '127.0.1.1', host_range_end: '127.0.127.254' },
      discovery: { image_dir: img, poll_seconds: 1 },
      services: {
        dhcp: { enabled: true, bind: '127.0.0.1', port: dhcpPort, range_start: '127.0.128.1', range_end: '127.0.255.254', lease_seconds: 3600 },
        tftp: { enabled: true, bind: '127.0.0.1', port: tftpPort, requests_per_second: 500 },
        ...((extra.services as Record<string, unknown> | undefined) ?? {}),
      },
      ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'services')),
    },
  });
  return {
    app,
    dhcpPort,
    tftpPort,
    async stop() {
      await app.stop();
      removeDataDir(root);
    },
  };
}

/** A simulation against `s`, with test defaults overridden by `o`. */
export async function simulation(s: SimAppliance, o: Partial<SimulateOptions>): Promise<Simulation> {
  const opts: SimulateOptions = {
    nodes: 10,
    racks: 2,
    seed: `t${process.pid}`,
    apiUrl: s.app.baseUrl,
    apiToken: s.app.token,
    dhcp: { host: '127.0.0.1', port: s.dhcpPort },
    tftpPort: s.tftpPort,
    bmcPort: 623,
    relayPrefix: '127.0.0',
    bmcFactoryOctet: 150,
    bmcNetwork: '127.65.0.0/16',
    faults: {},
    lossShare: 0.2,
    installMs: 0,
    pollMs: 500,
    tftpBytes: 16 * 1024,
    imageBytes: 64 * 1024,
    autoAllocate: true,
    powerOnPerSecond: 100,
    deadlineMs: 100_000,
    timeoutMs: 30_000,
    ...o,
  };
  return startSimulation(opts);
}
