import { describe, expect, it } from 'vitest';
import { signPayload, verifySignature } from '../../src/lib/signature.js';
import { hashPassword, verifyPassword } from '../../src/lib/password.js';
import { RateLimiter } from '../../src/lib/rate.js';
import { batchTimings, nodeTimings } from '../../src/services/timings.js';
import { bucketOf, nodeLocation } from '../../src/services/feed.js';
import { backoffMs, DEFAULT_WEBHOOK_POLICY, eventMatches } from '../../src/services/webhooks.js';
import { sseFrame } from '../../src/api/events.js';
import { readCookie } from '../../src/api/auth.js';
import type { NodeEvent, NodeState } from '../../src/model/node.js';

const ev = (id: number, node: number, to: NodeState, at: number, from: NodeState | null = null): NodeEvent => ({ id, node_id: node, node_name: `n${node}`, from_state: from, to_state: to, cause: 't', at });

describe('webhook signatures', () => {
  it('signs t.body with HMAC-SHA256 and verifies within the tolerance only', () => {
    const h = signPayload('s3cret-s3cret-s3cret', '{"a":1}', 1_700_000_000);
    // Known answer: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret-s3cret-s3cret
    expect(h).toBe('t=1700000000,v1=79a6c445ff099c53dc2ea6b6df3e4609699187aa67857a2783882ea8fd1e5c11');
    expect(verifySignature('s3cret-s3cret-s3cret', h, '{"a":1}', 1_700_000_100)).toBe(true);
    expect(verifySignature('s3cret-s3cret-s3cret', h, '{"a":2}', 1_700_000_100)).toBe(false);
    expect(verifySignature('other', h, '{"a":1}', 1_700_000_100)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', h, '{"a":1}', 1_700_001_000)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', 'garbage', '{"a":1}', 1_700_000_000)).toBe(false);
  });
});

describe('passwords', () => {
  it('hashes with scrypt, salted, and verifies', async () => {
    const p = { N: 1024, r: 8, p: 1 };
    const a = await hashPassword('correct horse', p);
    const b = await hashPassword('correct horse', p);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct hors', a)).toBe(false);
  });
});

describe('rate limiter peek/retryAfter', () => {
  it('peeks without consuming and tells when a token returns', () => {
    const r = new RateLimiter(1 / 60, 2);
    expect(r.peek('u', 0)).toBe(true);
    expect(r.take('u', 0)).toBe(true);
    expect(r.take('u', 0)).toBe(true);
    expect(r.peek('u', 0)).toBe(false);
    expect(r.retryAfter('u', 0)).toBe(60);
    expect(r.peek('u', 60_000)).toBe(true);
  });
});

describe('unboxer clock', () => {
  it('times each phase of a node and marks the slowest (ready excluded)', () => {
    const evs = [ev(1, 1, 'discovered', 0), ev(2, 1, 'hardware-installing', 10_000, 'discovered'), ev(3, 1, 'hardware-installed', 70_000), ev(4, 1, 'installing', 75_000), ev(5, 1, 'installed', 95_000), ev(6, 1, 'readying', 96_000), ev(7, 1, 'ready', 100_000)];
    const t = nodeTimings('n1', evs, 1_000_000);
    expect(t.phases.map((p) => [p.state, p.ms])).toEqual([
      ['discovered', 10_000],
      ['hardware-installing', 60_000],
      ['hardware-installed', 5_000],
      ['installing', 20_000],
      ['installed', 1_000],
      ['readying', 4_000],
      ['ready', 900_000],
    ]);
    expect(t.phases[t.slowest].state).toBe('hardware-installing');
    expect(t.total_ms).toBe(100_000);
    expect(t.ready_at).toBe(100_000);
    expect(t.phases[6].open).toBe(true);
  });

  it('aggregates a batch: medians per phase, wall time to the last ready node, the bottleneck', () => {
    const evs: NodeEvent[] = [];
    let id = 0;
    for (let n = 1; n <= 3; n++) {
      evs.push(ev(++id, n, 'discovered', 0), ev(++id, n, 'hardware-installing', 1000), ev(++id, n, 'hardware-installed', 1000 + n * 10_000), ev(++id, n, 'ready', 2000 + n * 10_000));
    }
    const b = batchTimings(evs, 999_999);
    expect(b.nodes).toBe(3);
    expect(b.ready).toBe(3);
    expect(b.wall_ms).toBe(32_000);
    const hi = b.phases.find((p) => p.state === 'hardware-installing')!;
    expect(hi).toMatchObject({ nodes: 3, median_ms: 20_000, max_ms: 30_000, max_node: 'n3' });
    expect(b.slowest).toBe('hardware-installing');
    expect(b.phases.map((p) => p.state)).toEqual(['discovered', 'hardware-installing', 'hardware-installed']);
  });

  it('never names problem as the slowest phase', () => {
    const evs = [ev(1, 1, 'discovered', 0), ev(2, 1, 'hardware-installing', 1000), ev(3, 1, 'problem', 5000)];
    const t = nodeTimings('n1', evs, 100_000);
    expect(t.phases.map((p) => p.state)).toEqual(['discovered', 'hardware-installing', 'problem']);
    expect(t.phases[t.slowest].state).toBe('hardware-installing');
    const b = batchTimings(evs, 100_000);
    expect(b.slowest).toBe('hardware-installing');
    expect(b.phases.find((p) => p.state === 'problem')!.median_ms).toBe(95_000);
  });

  it('counts a still-running batch up to now', () => {
    const b = batchTimings([ev(1, 1, 'discovered', 1000)], 6000);
    expect(b).toMatchObject({ nodes: 1, ready: 0, wall_ms: 5000, slowest: 'discovered' });
  });
});

describe('board buckets and locations', () => {
  it("maps states to Crowbar's colour buckets", () => {
    expect(bucketOf('ready')).toBe('ready');
    expect(bucketOf('discovered')).toBe('pending');
    for (const s of ['hardware-installing', 'installing', 'readying', 'applying', 'reinstall']) expect(bucketOf(s)).toBe('building');
    expect(bucketOf('problem')).toBe('failed');
    expect(bucketOf('delete')).toBe('unknown');
    expect(bucketOf('whatever')).toBe('unknown');
  });
  it('reads rack and chassis from the inventory', () => {
    expect(nodeLocation({ rack: 'R1', chassis: 'C2' })).toEqual({ rack: 'R1', chassis: 'C2' });
    expect(nodeLocation({ location: { rack: 4 } })).toEqual({ rack: '4', chassis: null });
    expect(nodeLocation({})).toEqual({ rack: null, chassis: null });
  });
});

describe('webhook matching and backoff', () => {
  it('matches patterns', () => {
    expect(eventMatches('*', 'node.created')).toBe(true);
    expect(eventMatches('node.*', 'node.transition')).toBe(true);
    expect(eventMatches('node.*', 'proposal.queued')).toBe(false);
    expect(eventMatches('proposal.queued', 'proposal.queued')).toBe(true);
  });
  it('backs off exponentially with a cap', () => {
    const p = DEFAULT_WEBHOOK_POLICY;
    expect([1, 2, 3, 4].map((a) => backoffMs(a, p))).toEqual([5000, 10_000, 20_000, 40_000]);
    expect(backoffMs(20, p)).toBe(p.maxDelayMs);
  });
});

describe('SSE framing and cookies', () => {
  it('frames events with an id only when replayable', () => {
    expect(sseFrame({ id: 7, type: 'node.created', at: 1, data: { node: 'a' } })).toBe('id: 7\ndata: {"type":"node.created","id":7,"at":1,"data":{"node":"a"}}\n\n');
    expect(sseFrame({ id: null, type: 'proposal.queued', at: 1, data: {} })).toBe('data: {"type":"proposal.queued","id":null,"at":1,"data":{}}\n\n');
  });
  it('reads one cookie among many', () => {
    expect(readCookie('a=1; crowbar_session=xyz; b=2', 'crowbar_session')).toBe('xyz');
    expect(readCookie('crowbar_sessionx=1', 'crowbar_session')).toBeUndefined();
    expect(readCookie(undefined, 'x')).toBeUndefined();
  });
});
