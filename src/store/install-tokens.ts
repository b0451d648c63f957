/**
 * Installer tokens (migration 8): the short-lived per-node secret in an
 * installer's URLs (`/install/<token>/...`), stored only as its SHA-256.
 * Several may be live for one node (every boot script render mints one);
 * each expires on its own, allows one fetch of the node's long-lived
 * credential, and all of a node's tokens die when it reports `installed`.
 */
import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
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
  private readonly q: {
    prune: Statement<[number]>;
    insert: Statement<[string, number, number, number]>;
    live: Statement<[string, number], { hash: string; node_id: number; expires_at: number; join_fetched_at: number | null }>;
    claim: Statement<[number, string]>;
    revoke: Statement<[number]>;
    countLive: Statement<[number, number], { n: number }>;
  };
  private readonly mint: (hash: string, nodeId: number, now: number, expiresAt: number) => void;

  constructor(db: Db) {
    this.q = {
      prune: db.prepare('DELETE FROM install_tokens WHERE expires_at <= ?'),
      insert: db.prepare('INSERT INTO install_tokens (hash, node_id, created_at, expires_at) VALUES (?, ?, ?, ?)'),
      live: db.prepare('SELECT hash, node_id, expires_at, join_fetched_at FROM install_tokens WHERE hash = ? AND expires_at > ?'),
      claim: db.prepare('UPDATE install_tokens SET join_fetched_at = ? WHERE hash = ? AND join_fetched_at IS NULL'),
      revoke: db.prepare('DELETE FROM install_tokens WHERE node_id = ?'),
      countLive: db.prepare('SELECT COUNT(*) AS n FROM install_tokens WHERE node_id = ? AND expires_at > ?'),
    };
    // Prune and insert in one transaction: one commit (one fsync) per boot-script render.
    this.mint = db.transaction((hash: string, nodeId: number, now: number, expiresAt: number) => {
      this.q.prune.run(now);
      this.q.insert.run(hash, nodeId, now, expiresAt);
    });
  }

  /** Mint a token for `nodeId` valid for `ttlMs`; returns the plain token (URL-safe). Expired rows are pruned. */
  issue(nodeId: number, now: number, ttlMs: number): string {
    const token = 'cbi_' + randomBytes(24).toString('base64url');
    this.mint(hashToken(token), nodeId, now, now + ttlMs);
    return token;
  }

  /** The live token's facts, or undefined (unknown or expired). */
  verify(token: string, now: number): InstallTokenInfo | undefined {
    const r = this.q.live.get(hashToken(token), now);
    return r ? { nodeId: r.node_id, hash: r.hash, expiresAt: r.expires_at, joinFetchedAt: r.join_fetched_at } : undefined;
  }

  /** Claim the token's one credential fetch; false when it was already used. */
  claimJoin(hash: string, now: number): boolean {
    return this.q.claim.run(now, hash).changes === 1;
  }

  /** Revoke every token of a node. */
  revokeNode(nodeId: number): number {
    return this.q.revoke.run(nodeId).changes;
  }

  /** Number of live tokens of a node. */
  countLive(nodeId: number, now: number): number {
    return this.q.countLive.get(nodeId, now)!.n;
  }
}
