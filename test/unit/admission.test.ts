/**
 * Admission of machine traffic (src/api/admission.ts): classes, FIFO one per
 * turn, polls refused when the queue is full, operators never queued.
 */
import { describe, expect, it } from 'vitest';
import { AdmissionGate, trafficClass } from '../../src/api/admission.js';

/** A gate whose "event-loop turns" the test runs by hand. */
function gate(maxQueue: number) {
  const turns: Array<() => void> = [];
  const clock = { t: 0 };
  // Every turn takes 20 ms (longer than turnMs): the batch stays at 1 unless a test moves the clock itself.
  const g = new AdmissionGate({ maxQueue, turnMs: 10, defer: (fn) => turns.push(fn), now: () => (clock.t += 20) });
  const turn = async () => {
    const fn = turns.shift();
    fn?.();
    await Promise.resolve();
  };
  return { g, turns, turn, clock };
}

describe('trafficClass', () => {
  it('tells operator, machine and poll requests apart', () => {
    expect(trafficClass('GET', '/api/v1/nodes', 'Bearer cbt_x')).toBe('operator');
    expect(trafficClass('GET', '/console/', undefined)).toBe('operator');
    expect(trafficClass('GET', '/api/v1/health', undefined)).toBe('operator');
    expect(trafficClass('GET', '/api/v1/agent/next', 'Bearer cbn_abc')).toBe('machine-poll');
    expect(trafficClass('POST', '/api/v1/discovery', undefined)).toBe('machine-poll');
    expect(trafficClass('POST', '/api/v1/agent/transition', 'Bearer cbn_abc')).toBe('machine');
    expect(trafficClass('GET', '/boot/node/52-54-00-00-00-01.ipxe', undefined)).toBe('machine');
    expect(trafficClass('GET', '/install/tok/user-data', undefined)).toBe('machine');
    // A join agent's run-list check (node token) is a poll; the operator's (API token) is not machine traffic.
    expect(trafficClass('GET', '/api/v1/nodes/d1.sim.test/runlist', 'Bearer cbn_abc')).toBe('machine-poll');
    expect(trafficClass('GET', '/api/v1/nodes/d1.sim.test/runlist', 'Bearer cbt_x')).toBe('operator');
    expect(trafficClass('POST', '/api/v1/nodes/d1.sim.test/runlist/status', 'Bearer cbn_abc')).toBe('machine');
  });
});

describe('AdmissionGate', () => {
  it('admits at once when idle, then one queued machine request per turn, in order', async () => {
    const { g, turn } = gate(10);
    expect(g.enter('machine')).toBe('now');
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) => (g.enter('machine') as Promise<void>).then(() => order.push(i)));
    expect(g.stats().waiting).toBe(3);
    await turn();
    expect(order).toEqual([1]);
    await turn();
    await turn();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
    await turn(); // empty turn: the gate goes idle
    expect(g.enter('machine-poll')).toBe('now');
    expect(g.stats()).toMatchObject({ admitted: 5, queued: 3, refused: 0, waiting: 0, maxWaiting: 3 });
  });

  it('grows the batch while turns are short and halves it when a turn is long', async () => {
    const turns: Array<() => void> = [];
    let t = 0;
    let step = 1; // ms per now() call: short turns
    const g = new AdmissionGate({ maxQueue: 1000, turnMs: 10, defer: (fn) => turns.push(fn), now: () => (t += step) });
    g.enter('machine');
    let started = 0;
    for (let i = 0; i < 200; i++) void (g.enter('machine') as Promise<void>).then(() => started++);
    const perTurn: number[] = [];
    for (let i = 0; i < 8; i++) {
      const before = started;
      turns.shift()!();
      await Promise.resolve();
      perTurn.push(started - before);
    }
    expect(perTurn.slice(0, 6)).toEqual([2, 3, 4, 5, 6, 7]);
    step = 50; // long turns
    const before = started;
    turns.shift()!();
    await Promise.resolve();
    expect(started - before).toBeLessThanOrEqual(Math.ceil(perTurn[7] / 2));
  });

  it('never queues operator requests, even behind a full queue', () => {
    const { g } = gate(2);
    g.enter('machine');
    void g.enter('machine');
    void g.enter('machine');
    expect(g.enter('operator')).toBe('now');
  });

  it('refuses polls when the queue is full but queues state changes', () => {
    const { g } = gate(2);
    g.enter('machine');
    void g.enter('machine-poll');
    void g.enter('machine-poll');
    expect(g.enter('machine-poll')).toBe('refused');
    const change = g.enter('machine');
    expect(change).toBeInstanceOf(Promise);
    expect(g.stats()).toMatchObject({ refused: 1, waiting: 3 });
  });

  it('with maxQueue 0 admits everything at once (admission control off)', () => {
    const { g, turns } = gate(0);
    for (let i = 0; i < 5; i++) expect(g.enter('machine-poll')).toBe('now');
    expect(turns).toHaveLength(0);
  });
});
