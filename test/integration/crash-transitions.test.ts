/**
 * kill -9 during API transitions: every acknowledged transition survives the
 * restart, and no node is left in a transient state without a problem reason.
 */
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { removeDataDir, startAppliance, type RunningAppliance } from '../helpers/appliance.js';

const NEXT: Record<string, string> = {
  discovered: 'hardware-installing',
  'hardware-installing': 'hardware-installed',
  'hardware-installed': 'installing',
  installing: 'installed',
  installed: 'readying',
  readying: 'ready',
  ready: 'reinstall',
  reinstall: 'installing',
  problem: 'readying',
};
const TRANSIENT = new Set(['discovering', 'hardware-installing', 'installing', 'readying', 'hardware-updating', 'applying', 'recovering']);
const NODES = 16;
const TARGET_ACKS = 1000;

let dataDir: string | undefined;
let app: RunningAppliance | undefined;
afterAll(async () => {
  await app?.kill();
  if (dataDir) removeDataDir(dataDir);
});

describe('crash safety of node transitions', () => {
  it('loses no acknowledged transition across kill -9 (3 kills during 1000 transitions)', async () => {
    app = await startAppliance();
    dataDir = app.dataDir;
    const names: string[] = [];
    for (let i = 0; i < NODES; i++) {
      const r = await app.api('/api/v1/nodes', { body: { macs: [`52:54:00:aa:00:${i.toString(16).padStart(2, '0')}`] } });
      expect(r.status).toBe(201);
      names.push(r.body.name);
    }
    // acked[name] = list of to-states the API acknowledged, in order.
    const acked = new Map<string, string[]>(names.map((n) => [n, []]));
    const state = new Map<string, string>(names.map((n) => [n, 'discovered']));
    let total = 0;
    for (let cycle = 0; cycle < 4 && total < TARGET_ACKS; cycle++) {
      const cur = app;
      const killAfter = cycle < 3 ? total + 150 + Math.floor(Math.random() * 150) : Infinity;
      let killed = false;
      // One worker per node: transitions of a node are sequential.
      await Promise.all(
        names.map(async (name) => {
          while (!killed && total < TARGET_ACKS) {
            const to = NEXT[state.get(name)!];
            let r;
            try {
              r = await cur.api(`/api/v1/nodes/${name}/transition`, { body: { to } });
            } catch {
              return; // connection refused / reset: the process was killed
            }
            expect(r.status, JSON.stringify(r.body)).toBe(200);
            acked.get(name)!.push(to);
            state.set(name, to);
            total++;
            if (total >= killAfter && !killed) {
              killed = true;
              await cur.kill();
            }
          }
        }),
      );
      if (!killed) break;
      // Restart on the same data directory.
      app = await startAppliance({ dataDir });
      const list = (await app.api('/api/v1/nodes')).body.nodes as Array<{ name: string; state: string; problem_reason: string | null }>;
      for (const n of list) {
        expect(TRANSIENT.has(n.state), `${n.name} left in ${n.state}`).toBe(false);
        if (n.state === 'problem') expect(n.problem_reason).toMatch(/appliance restarted while the node was/);
        state.set(n.name, n.state);
      }
    }
    expect(total).toBeGreaterThanOrEqual(TARGET_ACKS);
    await app.stop();
    // Every acknowledged transition is in the event log, in order, per node.
    const db = new Database(join(dataDir!, 'crowbar.db'), { readonly: true });
    for (const name of names) {
      const events = db
        .prepare('SELECT to_state, cause FROM node_events WHERE node_name = ? ORDER BY id')
        .all(name) as Array<{ to_state: string; cause: string }>;
      const fromApi = events.filter((e) => e.cause.startsWith('api:') && e.to_state !== 'discovered').map((e) => e.to_state);
      const want = acked.get(name)!;
      // An in-flight transition may have committed without its ack: allow one extra per kill.
      expect(fromApi.length).toBeGreaterThanOrEqual(want.length);
      expect(fromApi.length).toBeLessThanOrEqual(want.length + 3);
      let i = 0;
      for (const w of want) {
        while (i < fromApi.length && fromApi[i] !== w) i++;
        expect(i < fromApi.length, `${name}: acknowledged transition to ${w} missing`).toBe(true);
        i++;
      }
    }
    db.close();
  }, 180_000);
});
