/**
 * Console users: name, role and an scrypt password hash (hashing lives in
 * src/lib/password.ts; this repository only stores the result).
 */
import { preparedCache, type Db, type Prepare } from './db.js';
import { CrowbarError } from '../lib/errors.js';
import type { Role } from './tokens.js';

/** A user as returned to callers (never with the hash). */
export interface User {
  id: number;
  name: string;
  role: Role;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

const COLS = 'id, name, role, created_at, updated_at, last_login_at';

/** Data access for users. */
export class UserRepo {
  private readonly sql: Prepare;

  constructor(db: Db) {
    this.sql = preparedCache(db);
  }

  /** Create a user; `conflict` when the name is taken. */
  create(name: string, role: Role, passwordHash: string, now: number): User {
    if (this.getByName(name)) throw new CrowbarError('conflict', `user ${name} exists`);
    const id = Number(
      this.sql('INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(name, role, passwordHash, now, now).lastInsertRowid,
    );
    return { id, name, role, created_at: now, updated_at: now, last_login_at: null };
  }

  /** User by name, or undefined. */
  getByName(name: string): User | undefined {
    return this.sql<[string], User>(`SELECT ${COLS} FROM users WHERE name = ?`).get(name);
  }

  /** User by id, or undefined. */
  get(id: number): User | undefined {
    return this.sql<[number], User>(`SELECT ${COLS} FROM users WHERE id = ?`).get(id);
  }

  /** The stored password hash of a user (for verification only). */
  passwordHash(name: string): { id: number; hash: string } | undefined {
    const r = this.sql<[string], { id: number; password_hash: string }>('SELECT id, password_hash FROM users WHERE name = ?').get(name);
    return r && { id: r.id, hash: r.password_hash };
  }

  /** All users by name. */
  list(): User[] {
    return this.sql<[], User>(`SELECT ${COLS} FROM users ORDER BY name`).all();
  }

  /** Number of users. */
  count(): number {
    return (this.sql('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  /** Number of admins (the last admin may not be removed or demoted). */
  adminCount(): number {
    return (this.sql("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'").get() as { n: number }).n;
  }

  /** Change role and/or password hash. */
  update(id: number, changes: { role?: Role; passwordHash?: string }, now: number): void {
    if (changes.role) this.sql('UPDATE users SET role = ?, updated_at = ? WHERE id = ?').run(changes.role, now, id);
    if (changes.passwordHash) this.sql('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?').run(changes.passwordHash, now, id);
  }

  /** Record a successful login. */
  touchLogin(id: number, now: number): void {
    this.sql('UPDATE users SET last_login_at = ? WHERE id = ?').run(now, id);
  }

  /** Delete a user (their sessions go with them). */
  remove(id: number): boolean {
    return this.sql('DELETE FROM users WHERE id = ?').run(id).changes === 1;
  }
}
