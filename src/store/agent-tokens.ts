/**
 * Per-node agent tokens (discovery, migration 5): a random secret handed to a
 * node's agent when it registers, stored only as its SHA-256 hash. One token
 * per node; issuing a new one (re-registration after a reboot) revokes the old.
 */
import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { hashToken } from './tokens.js';

/**
 * `last_used_at` is a coarse "seen recently" mark, written at most once per
 * this many milliseconds per node: every agent request verifies its token,
 * and a write (one fsync under synchronous=FULL) per poll was the largest
 * single cost of the appliance with 1000 agents (docs/simulator.md).
 */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** Data access for agent tokens. */
export class AgentTokenRepo {
  private readonly q: {
    upsert: Statement<[number, string, number]>;
    byHash: Statement<[string], { node_id: number; last_used_at: number | null }>;
    touch: Statement<[number, number]>;
    del: Statement<[number]>;
  };

  constructor(private readonly db: Db) {
    this.q = {
      upsert: db.prepare(
        'INSERT INTO agent_tokens (node_id, hash, created_at) VALUES (?, ?, ?) ON CONFLICT(node_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at, last_used_at = NULL',
      ),
      byHash: db.prepare('SELECT node_id, last_used_at FROM agent_tokens WHERE hash = ?'),
      touch: db.prepare('UPDATE agent_tokens SET last_used_at = ? WHERE node_id = ?'),
      del: db.prepare('DELETE FROM agent_tokens WHERE node_id = ?'),
    };
  }

  /** Issue (or replace) the token of `nodeId`; returns the plain secret, shown once. */
  issue(nodeId: number, now: number): string {
    const token = 'cbn_' + randomBytes(24).toString('base64url');
    this.q.upsert.run(nodeId, hashToken(token), now);
    return token;
  }

  /**
   * The node id a presented token belongs to, or undefined. Records its use
   * when the stored mark is older than LAST_USED_RESOLUTION_MS.
   */
  verify(token: string, now: number): number | undefined {
    const r = this.q.byHash.get(hashToken(token));
    if (!r) return undefined;
    if (r.last_used_at === null || now - r.last_used_at >= LAST_USED_RESOLUTION_MS || now < r.last_used_at) this.q.touch.run(now, r.node_id);
    return r.node_id;
  }

  /** Revoke the token of a node. */
  revoke(nodeId: number): void {
    this.q.del.run(nodeId);
  }
}
