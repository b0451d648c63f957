/** The RAID part of the hardware-install plan, from raid proposals (src/services/hardware-plan.ts). */
import { describe, expect, it } from 'vitest';
import { raidPlanFor } from '../../src/services/hardware-plan.js';

const doc = (nodes: string[], raid: Record<string, unknown>) => ({ attributes: { raid }, deployment: { raid: { elements: { 'raid-configure': nodes } } } });

describe('raidPlanFor', () => {
  it('no proposal, or the node not listed: no RAID', () => {
    expect(raidPlanFor('n1', [])).toEqual({ level: 'none' });
    expect(raidPlanFor('n1', [{ name: 'a', proposal: doc(['n2'], { level: '1', disks: ['/dev/sda', '/dev/sdb'], apply: true }), applied: null }])).toEqual({ level: 'none' });
  });

  it('a saved proposal listing the node with apply: true gives raid1 over its disks', () => {
    const p = { name: 'a', proposal: doc(['n1'], { level: '1', disks: ['/dev/vda', '/dev/vdb'], apply: true }), applied: null };
    expect(raidPlanFor('n1', [p])).toEqual({ level: 'raid1', disks: ['/dev/vda', '/dev/vdb'], from: 'a' });
  });

  it('the applied document wins over the draft', () => {
    const p = { name: 'a', proposal: doc(['n1'], { level: '1', disks: ['/dev/vda', '/dev/vdb'], apply: true }), applied: doc(['n1'], { level: '1', disks: ['/dev/sda', '/dev/sdb'], apply: false }) };
    expect(raidPlanFor('n1', [p])).toEqual({ level: 'none', from: 'a' });
  });

  it('levels or disk counts the agent cannot build are errors, not silent skips', () => {
    expect(() => raidPlanFor('n1', [{ name: 'a', proposal: doc(['n1'], { level: '5', disks: ['/dev/a', '/dev/b', '/dev/c'], apply: true }), applied: null }])).toThrow(/level 5/);
    expect(() => raidPlanFor('n1', [{ name: 'a', proposal: doc(['n1'], { level: '1', disks: ['/dev/a'], apply: true }), applied: null }])).toThrow(/two disks/);
  });
});
