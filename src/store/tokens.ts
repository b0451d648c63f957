/**
 * API tokens: stored as SHA-256 hashes only, so a copy of the database does
 * not give API access. The plain token is shown once when created.
 */
import { createHash, randomBytes } from 'node:crypto';
import { preparedCache, type Db, type Prepare } from './db.js';

/** Roles a token (or user) may have. */
export type Role = 'admin' | 'operator' | 'readonly';

/** A token as stored (without its secret). */
export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  created_at: number;
}

/** SHA-256 hex of a token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Data access for API tokens. */
export class TokenRepo {
  private readonly sql: Prepare;

  constructor(db: Db) {
    this.sql = preparedCache(db);
  }

  /** Create a token; returns the plain secret (shown once) and its record. */
  create(name: string, role: Role, now: number): { token: string; record: ApiToken } {
    const token = 'cb_' + randomBytes(24).toString('base64url');
    const id = Number(this.sql('INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)').run(name, role, hashToken(token), now).lastInsertRowid);
    return { token, record: { id, name, role, created_at: now } };
  }

  /** The token record matching a presented secret, or undefined. */
  verify(token: string): ApiToken | undefined {
    return this.sql<[string], ApiToken>('SELECT id, name, role, created_at FROM api_tokens WHERE hash = ?').get(hashToken(token));
  }

  /** Number of tokens. */
  count(): number {
    return (this.sql('SELECT COUNT(*) AS n FROM api_tokens').get() as { n: number }).n;
  }
}

/** Listing and revocation of API tokens (admin token management). */
export class TokenAdmin {
  private readonly sql: Prepare;

  constructor(db: Db) {
    this.sql = preparedCache(db);
  }

  /** All tokens (never their secrets). */
  list(): Array<ApiToken & { last_used_at: number | null }> {
    return this.sql<[], ApiToken & { last_used_at: number | null }>('SELECT id, name, role, created_at, last_used_at FROM api_tokens ORDER BY id').all();
  }

  /** Revoke a token by id; false when there was none. */
  revoke(id: number): boolean {
    return this.sql('DELETE FROM api_tokens WHERE id = ?').run(id).changes === 1;
  }
}
