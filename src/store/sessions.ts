/**
 * Server-side console sessions. The browser holds a random session id in an
 * HttpOnly cookie; the table holds only its SHA-256, the user, the CSRF
 * (synchronizer) token and the idle/absolute expiry.
 */
import { randomBytes } from 'node:crypto';
import { preparedCache, type Db, type Prepare } from './db.js';
import { hashToken, type Role } from './tokens.js';

/** A live session joined with its user. */
export interface SessionInfo {
  id_hash: string;
  user_id: number;
  user: string;
  role: Role;
  csrf: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

/** Session lifetimes. */
export interface SessionPolicy {
  /** A session unused for this long expires. */
  idleMs: number;
  /** A session never lives longer than this. */
  absoluteMs: number;
}

/** Default: 8 hours idle, 24 hours absolute. */
export const DEFAULT_SESSION_POLICY: SessionPolicy = { idleMs: 8 * 3600_000, absoluteMs: 24 * 3600_000 };

/** Data access for sessions. */
export class SessionRepo {
  private readonly sql: Prepare;

  constructor(
    db: Db,
    private readonly policy: SessionPolicy = DEFAULT_SESSION_POLICY,
  ) {
    this.sql = preparedCache(db);
  }

  /** Create a session; returns the cookie value (shown to the browser only) and the CSRF token. */
  create(userId: number, source: string, now: number): { id: string; csrf: string } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    this.sql('INSERT INTO sessions (id_hash, user_id, csrf, source, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(hashToken(id), userId, csrf, source.slice(0, 64), now, now, now + this.policy.absoluteMs);
    return { id, csrf };
  }

  /**
   * The live session for a cookie value, refreshing its idle timer (at most
   * once a minute, to keep writes rare); expired sessions are deleted.
   */
  lookup(id: string, now: number): SessionInfo | undefined {
    const h = hashToken(id);
    const s = this.sql<[string], SessionInfo>(
        'SELECT s.id_hash, s.user_id, u.name AS user, u.role, s.csrf, s.created_at, s.last_seen_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?',
      )
      .get(h);
    if (!s) return undefined;
    if (now >= s.expires_at || now - s.last_seen_at >= this.policy.idleMs) {
      this.sql('DELETE FROM sessions WHERE id_hash = ?').run(h);
      return undefined;
    }
    if (now - s.last_seen_at >= 60_000) {
      this.sql('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?').run(now, h);
      s.last_seen_at = now;
    }
    return s;
  }

  /** End one session by its cookie value. */
  remove(id: string): void {
    this.sql('DELETE FROM sessions WHERE id_hash = ?').run(hashToken(id));
  }

  /** End every session of a user (password change, role change, deletion). */
  removeForUser(userId: number): number {
    return this.sql('DELETE FROM sessions WHERE user_id = ?').run(userId).changes;
  }

  /** Delete expired sessions; returns how many. */
  purge(now: number): number {
    return this.sql('DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?').run(now, now - this.policy.idleMs).changes;
  }
}
