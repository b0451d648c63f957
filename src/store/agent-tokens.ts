/**
 * Per-node agent tokens (discovery, migration 5): a random secret handed to a
 * node's agent when it registers, stored only as its SHA-256 hash. One token
 * per node; issuing a new one (re-registration after a reboot) revokes the old.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';
import { hashToken } from './tokens.js';

/** Data access for agent tokens. */
export class AgentTokenRepo {
  constructor(private readonly db: Db) {}

  /** Issue (or replace) the token of `nodeId`; returns the plain secret, shown once. */
  issue(nodeId: number, now: number): string {
    const token = 'cbn_' + randomBytes(24).toString('base64url');
    this.db
      .prepare('INSERT INTO agent_tokens (node_id, hash, created_at) VALUES (?, ?, ?) ON CONFLICT(node_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at, last_used_at = NULL')
      .run(nodeId, hashToken(token), now);
    return token;
  }

  /** The node id a presented token belongs to, or undefined. Records its use. */
  verify(token: string, now: number): number | undefined {
    const h = hashToken(token);
    const r = this.db.prepare<[string], { node_id: number }>('SELECT node_id FROM agent_tokens WHERE hash = ?').get(h);
    if (!r) return undefined;
    this.db.prepare('UPDATE agent_tokens SET last_used_at = ? WHERE node_id = ?').run(now, r.node_id);
    return r.node_id;
  }

  /** Revoke the token of a node. */
  revoke(nodeId: number): void {
    this.db.prepare('DELETE FROM agent_tokens WHERE node_id = ?').run(nodeId);
  }
}
