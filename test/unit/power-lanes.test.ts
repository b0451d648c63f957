/** BmcLanes: one operation per BMC at a time, pacing, independence of BMCs, bounded queue. */
import { describe, expect, it } from 'vitest';
import { BmcLanes } from '../../src/services/power/lanes.js';
import { isCrowbarError } from '../../src/lib/errors.js';

const clock = { now: () => Date.now(), nowNs: () => BigInt(Date.now()) * 1_000_000n };
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('BmcLanes', () => {
  it('serializes one BMC and paces it; other BMCs run concurrently', async () => {
    const lanes = new BmcLanes(clock, 60);
    const active = new Map<string, number>();
    let maxSame = 0;
    let maxAll = 0;
    const spans: Array<[string, number, number]> = [];
    const op = (key: string) =>
      lanes.run(key, async () => {
        active.set(key, (active.get(key) ?? 0) + 1);
        maxSame = Math.max(maxSame, active.get(key)!);
        maxAll = Math.max(maxAll, [...active.values()].reduce((a, b) => a + b, 0));
        const t0 = Date.now();
        await delay(20);
        active.set(key, active.get(key)! - 1);
        spans.push([key, t0, Date.now()]);
      });
    await Promise.all([op('a'), op('a'), op('a'), op('b'), op('c')]);
    expect(maxSame).toBe(1);
    expect(maxAll).toBeGreaterThanOrEqual(3);
    const a = spans.filter((s) => s[0] === 'a').sort((x, y) => x[1] - y[1]);
    for (let i = 1; i < a.length; i++) expect(a[i][1] - a[i - 1][2]).toBeGreaterThanOrEqual(55);
  });

  it('a failing operation releases the lane; the queue per BMC is bounded', async () => {
    const lanes = new BmcLanes(clock, 0, 3);
    await expect(lanes.run('x', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await lanes.run('x', async () => 7)).toBe(7);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const queued = [lanes.run('y', () => gate), lanes.run('y', async () => 1), lanes.run('y', async () => 2)];
    let err: unknown;
    try {
      await lanes.run('y', async () => 3);
    } catch (e) {
      err = e;
    }
    expect(isCrowbarError(err, 'rate_limited')).toBe(true);
    release();
    await Promise.all(queued);
  });
});
