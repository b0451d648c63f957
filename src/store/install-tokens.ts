/**
 * Installer tokens (migration 8): the short-lived per-node secret in an
 * installer's URLs (`/install/<token>/...`), stored only as its SHA-256.
 * Several may be live for one node (every boot script render mints one);
 * each expires on its own, allows one fetch of the node's long-lived
 * credential, and all of a node's tokens die when it reports `installed`.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';
import { hashToken } from './tokens.js';

/** A verified installer token. */
export interface InstallTokenInfo {
  nodeId: number;
  hash: string;
  expiresAt: number;
  joinFetchedAt: number | null;
}

/** Data access for installer tokens. */
export class InstallTokenRepo {
  constructor(private readonly db: Db) {}

  /** Mint a token for `nodeId` valid for `ttlMs`; returns the plain token (URL-safe). Expired rows are pruned. */
  issue(nodeId: number, now: number, ttlMs: number): string {
    const token = 'cbi_' + randomBytes(24).toString('base64url');
    this.db.prepare('DELETE FROM install_tokens WHERE expires_at <= ?').run(now);
    this.db.prepare('INSERT INTO install_tokens (hash, node_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run(hashToken(token), nodeId, now, now + ttlMs);
    return token;
  }

  /** The live token's facts, or undefined (unknown or expired). */
  verify(token: string, now: number): InstallTokenInfo | undefined {
    const r = this.db
      .prepare<[string, number], { hash: string; node_id: number; expires_at: number; join_fetched_at: number | null }>('SELECT hash, node_id, expires_at, join_fetched_at FROM install_tokens WHERE hash = ? AND expires_at > ?')
      .get(hashToken(token), now);
    return r ? { nodeId: r.node_id, hash: r.hash, expiresAt: r.expires_at, joinFetchedAt: r.join_fetched_at } : undefined;
  }

  /** Claim the token's one credential fetch; false when it was already used. */
  claimJoin(hash: string, now: number): boolean {
    return this.db.prepare('UPDATE install_tokens SET join_fetched_at = ? WHERE hash = ? AND join_fetched_at IS NULL').run(now, hash).changes === 1;
  }

  /** Revoke every token of a node. */
  revokeNode(nodeId: number): number {
    return this.db.prepare('DELETE FROM install_tokens WHERE node_id = ?').run(nodeId).changes;
  }

  /** Number of live tokens of a node. */
  countLive(nodeId: number, now: number): number {
    return this.db.prepare<[number, number], { n: number }>('SELECT COUNT(*) AS n FROM install_tokens WHERE node_id = ? AND expires_at > ?').get(nodeId, now)!.n;
  }
}
