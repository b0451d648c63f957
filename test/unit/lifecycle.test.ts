import { describe, expect, it } from 'vitest';
import { bootGroup, decide, TRANSIENT_STATES } from '../../src/state/lifecycle.js';
import { NODE_STATES, POWER_ACTIONS, type NodeState } from '../../src/model/node.js';

const ADMIN = ['reset', 'reinstall', 'update', 'delete'];

// The expected forward moves, written out independently of the implementation.
const EXPECTED_FORWARD: Record<NodeState, string[]> = {
  discovering: ['discovered'],
  discovered: ['hardware-installing', 'discovering'],
  'hardware-installing': ['hardware-installed'],
  'hardware-installed': ['installing'],
  installing: ['installed'],
  installed: ['readying'],
  readying: ['ready', 'recovering'],
  ready: ['readying', 'applying', 'hardware-updating'],
  'hardware-updating': ['hardware-updated'],
  'hardware-updated': ['readying', 'ready'],
  applying: ['ready', 'recovering'],
  recovering: ['ready', 'readying', 'applying'],
  problem: ['readying', 'applying', 'hardware-installing', 'installing', 'discovering'],
  reset: ['discovering', 'discovered'],
  reinstall: ['installing'],
  update: ['hardware-updating'],
  delete: [],
};

const EXPECTED_BOOT: Record<NodeState, string> = {
  discovering: 'discovery',
  discovered: 'hardware-install',
  'hardware-installing': 'hardware-install',
  'hardware-installed': 'os-install',
  installing: 'os-install',
  installed: 'local',
  readying: 'local',
  ready: 'local',
  'hardware-updating': 'hardware-install',
  'hardware-updated': 'local',
  applying: 'local',
  recovering: 'local',
  problem: 'local',
  reset: 'discovery',
  reinstall: 'os-install',
  update: 'hardware-install',
  delete: 'none',
};

describe('node lifecycle table', () => {
  const targets = [...NODE_STATES, ...POWER_ACTIONS, 'bogus'];
  for (const from of NODE_STATES) {
    describe(`from ${from}`, () => {
      for (const to of targets) {
        const d = decide(from, to);
        let expectOk: boolean;
        if (from === 'delete') expectOk = false;
        else if ((POWER_ACTIONS as readonly string[]).includes(to)) expectOk = true;
        else if (to === 'problem') expectOk = true;
        else if (ADMIN.includes(to)) expectOk = to !== from;
        else expectOk = EXPECTED_FORWARD[from].includes(to);
        it(`${expectOk ? 'allows' : 'refuses'} ${to}`, () => {
          expect(d.ok).toBe(expectOk);
          if (!d.ok) {
            // Refusals list what is allowed, and that list is itself accepted.
            for (const a of d.allowed) expect(decide(from, a).ok).toBe(true);
            if (from !== 'delete') expect(d.allowed).toEqual(expect.arrayContaining(EXPECTED_FORWARD[from]));
          } else {
            expect(d.effects.length).toBeGreaterThan(0);
            if ((POWER_ACTIONS as readonly string[]).includes(to)) {
              expect(d.to).toBe(from);
              expect(d.effects).toEqual([{ type: 'power', action: { reboot: 'cycle', shutdown: 'off', poweron: 'on', identify: 'identify' }[to as 'reboot'] }]);
            } else {
              expect(d.to).toBe(to);
            }
          }
        });
      }
      it(`boots ${EXPECTED_BOOT[from]}`, () => expect(bootGroup(from)).toBe(EXPECTED_BOOT[from]));
    });
  }

  it('walks the whole happy path discovering -> ready', () => {
    const path: NodeState[] = ['discovering', 'discovered', 'hardware-installing', 'hardware-installed', 'installing', 'installed', 'readying', 'ready'];
    for (let i = 1; i < path.length; i++) expect(decide(path[i - 1], path[i]).ok).toBe(true);
  });

  it('delete releases allocations, updates DNS and removes the node', () => {
    const d = decide('ready', 'delete');
    expect(d.ok && d.effects.map((e) => e.type)).toEqual(['notify', 'power', 'release-allocations', 'dns-update', 'remove-node']);
  });

  it('installed switches the next boot to disk; reinstall power-cycles into PXE', () => {
    const a = decide('installing', 'installed');
    expect(a.ok && a.effects).toContainEqual({ type: 'boot-device', device: 'disk' });
    const b = decide('ready', 'reinstall');
    expect(b.ok && b.effects).toEqual(expect.arrayContaining([{ type: 'boot-device', device: 'pxe' }, { type: 'power', action: 'cycle' }]));
  });

  it('allocates a node entering hardware-installing and unallocates it on reset (Crowbar allocate)', () => {
    const a = decide('discovered', 'hardware-installing');
    expect(a.ok && a.allocated).toBe(true);
    const r = decide('ready', 'reset');
    expect(r.ok && r.allocated).toBe(false);
    const n = decide('installing', 'installed');
    expect(n.ok && 'allocated' in n).toBe(false);
  });

  it('marks only in-flight states as transient', () => {
    expect([...TRANSIENT_STATES].sort()).toEqual(
      ['applying', 'discovering', 'hardware-installing', 'hardware-updating', 'installing', 'readying', 'recovering'].sort(),
    );
  });
});
