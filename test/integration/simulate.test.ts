/**
 * Virtual racks against a real appliance (child process on loopback): 100
 * simulated machines in 4 racks speak relayed DHCP, TFTP, HTTP and RMCP+;
 * 5% lose 20% of their datagrams, 2% never answer, 2% fail hardware-install,
 * 2% fail the OS install, 2% reboot in the middle of it. Checks: every
 * healthy and lossy machine reaches `ready`; the failing ones end in
 * `problem` with their reasons; the silent ones never appear; no duplicate
 * name, MAC, admin or BMC address (API and database) and no DHCP lease on
 * another node's address; each node's event log is one unbroken chain of
 * transitions covering the whole lifecycle; the appliance's power service
 * reaches the simulated BMCs on their new addresses with the credentials
 * hardware-install set (power status, and a power cycle that reboots the
 * machine through a second join).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulation, SimulationReport } from '../../src/sim/simulator.js';
import { simulation, startSimAppliance, type SimAppliance } from '../helpers/sim-appliance.js';

/** Machines (100 in the default run; the scale benchmark runs thousands: docs/simulator.md). */
const N = 100;
/** Machines per fault class at 2% (Math.round(share * N), as the simulator assigns them). */
const TWO_PCT = Math.round(0.02 * N);
let s: SimAppliance;
let sim: Simulation;
let report: SimulationReport;

beforeAll(async () => {
  s = await startSimAppliance();
  sim = await simulation(s, {
    nodes: N,
    racks: 4,
    faults: { lossy: 0.05, silent: 0.02, 'fail-hardware': 0.02, 'fail-install': 0.02, 'reboot-install': 0.02 },
    lossShare: 0.2,
    installMs: 500,
    powerOnPerSecond: 10,
    deadlineMs: 240_000,
    timeoutMs: 60_000,
  });
  report = await sim.run();
  const { machines: _m, ...summary } = report;
  console.log(JSON.stringify(summary));
  console.log(s.app.output().split('\n').filter((l) => /warn|error/i.test(l)).slice(-10).join('\n'));
}, 300_000);

afterAll(async () => {
  await sim?.stop();
  await s?.stop();
});

describe(`${N} simulated machines`, () => {
  it('healthy and lossy machines reach ready; faulty ones end where they should', () => {
    const bad = report.machines.filter((m) => {
      if (m.fault === 'none' || m.fault === 'lossy') return m.outcome !== 'ready';
      if (m.fault === 'silent') return m.outcome !== 'silent';
      return m.outcome !== 'problem';
    });
    expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
    expect(report.outcomes).toMatchObject({ ready: N - 4 * TWO_PCT, problem: 3 * TWO_PCT, silent: TWO_PCT, running: 0, error: 0 });
    expect(report.allocationFailures).toEqual([]);
  });

  it('the appliance agrees: states, problem reasons, no node for silent machines', async () => {
    const nodes: any[] = (await s.app.api('/api/v1/nodes')).body.nodes;
    expect(nodes).toHaveLength(N - TWO_PCT);
    const byName = new Map(nodes.map((n) => [n.name, n]));
    for (const m of report.machines) {
      if (m.fault === 'silent') {
        expect(nodes.some((n) => n.macs.includes(m.mac))).toBe(false);
        continue;
      }
      const n = byName.get(m.node!);
      expect(n, m.mac).toBeDefined();
      expect(n.macs[0]).toBe(m.mac);
      if (m.outcome === 'ready') {
        expect(n.state).toBe('ready');
        expect(n.bmc_address).toBe(m.bmc);
        continue;
      }
      expect(n.state).toBe('problem');
      const want = { 'fail-hardware': /^hardware-install failed/, 'fail-install': /^OS install failed/, 'reboot-install': /^installer restarted: the machine rebooted during the OS install/ }[m.fault as 'fail-hardware'];
      expect(n.problem_reason).toMatch(want);
    }
  });

  it('no duplicate names, MACs, admin or BMC addresses; no lease on another node\'s address (API and DB)', async () => {
    const nodes: any[] = (await s.app.api('/api/v1/nodes')).body.nodes;
    const uniq = (xs: string[]) => new Set(xs).size === xs.length;
    expect(uniq(nodes.map((n) => n.name))).toBe(true);
    expect(uniq(nodes.flatMap((n) => n.macs))).toBe(true);
    for (const net of ['admin', 'bmc']) {
      const a: any[] = (await s.app.api(`/api/v1/networks/${net}/allocations`)).body.allocations;
      expect(a.length, net).toBeGreaterThanOrEqual(N - TWO_PCT - (net === 'bmc' ? 0 : 0));
      expect(uniq(a.map((x) => x.address)), net).toBe(true);
      expect(uniq(a.map((x) => x.node)), net).toBe(true);
    }
    const bmcs = report.machines.filter((m) => m.outcome === 'ready').map((m) => m.bmc);
    expect(uniq(bmcs)).toBe(true);
    const db = new Database(join(s.app.dataDir, 'crowbar.db'), { readonly: true, fileMustExist: true });
    try {
      const dupNames = db.prepare('SELECT name, COUNT(*) c FROM nodes GROUP BY name HAVING c > 1').all();
      const dupAlloc = db.prepare('SELECT network, address, COUNT(*) c FROM allocations GROUP BY network, address HAVING c > 1').all();
      const dupLease = db.prepare("SELECT address, COUNT(DISTINCT mac) c FROM dhcp_leases WHERE state = 'bound' GROUP BY address HAVING c > 1").all();
      // A bound lease on an address allocated to a node must belong to one of that node's MACs.
      const foreign = db
        .prepare(
          "SELECT l.address, l.mac FROM dhcp_leases l JOIN allocations a ON a.network = 'admin' AND a.address = l.address WHERE l.state = 'bound' AND l.mac NOT IN (SELECT mac FROM node_macs WHERE node_id = a.node_id)",
        )
        .all();
      expect({ dupNames, dupAlloc, dupLease, foreign }).toEqual({ dupNames: [], dupAlloc: [], dupLease: [], foreign: [] });
      expect((db.prepare("SELECT COUNT(*) c FROM dhcp_leases WHERE state = 'bound'").get() as { c: number }).c).toBeGreaterThanOrEqual(N - TWO_PCT);
    } finally {
      db.close();
    }
  });

  it('every transition is in the event log, as one unbroken chain per node', async () => {
    const nodes: any[] = (await s.app.api('/api/v1/nodes')).body.nodes;
    const lifecycle = ['discovered', 'hardware-installing', 'hardware-installed', 'installing', 'installed', 'readying', 'ready'];
    for (const n of nodes) {
      const ev: any[] = (await s.app.api(`/api/v1/nodes/${n.name}/events`)).body.events;
      ev.sort((a, b) => a.id - b.id);
      expect(ev[0].from_state, n.name).toBeNull();
      for (let i = 1; i < ev.length; i++) expect(ev[i].from_state, `${n.name} event ${i}`).toBe(ev[i - 1].to_state);
      expect(ev[ev.length - 1].to_state).toBe(n.state);
      const path = ev.map((e) => e.to_state);
      if (n.state === 'ready') expect(path, n.name).toEqual(lifecycle);
      else expect(path[path.length - 1]).toBe('problem');
    }
  });

  it('the power service reaches the moved BMCs with the hardware-install credentials; a cycle reboots and re-joins', async () => {
    const ready = sim.machines.filter((m) => m.outcome === 'ready').slice(0, 3);
    for (const m of ready) {
      const st = await s.app.api(`/api/v1/nodes/${m.node}/power`, { body: { action: 'status' } });
      expect(st.status, JSON.stringify(st.body)).toBe(200);
      expect(st.body.state).toBe('on');
      const boots = m.boots;
      const cyc = await s.app.api(`/api/v1/nodes/${m.node}/power`, { body: { action: 'cycle' } });
      expect(cyc.status, JSON.stringify(cyc.body)).toBe(200);
      expect(m.boots).toBe(boots + 1);
    }
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && ready.some((m) => m.outcome !== 'ready')) await new Promise((r) => setTimeout(r, 200));
    for (const m of ready) {
      expect(m.outcome).toBe('ready');
      const ev: any[] = (await s.app.api(`/api/v1/nodes/${m.node}/events`)).body.events;
      ev.sort((a, b) => a.id - b.id);
      expect(ev.map((e) => e.to_state).slice(-3)).toEqual(['ready', 'readying', 'ready']);
      expect(m.groups.slice(-1)).toEqual(['local']);
      expect(m.bmc.counters.sessions).toBeGreaterThanOrEqual(3);
    }
  }, 60_000);
});
