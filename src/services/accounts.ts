/**
 * Users and console logins: password verification (scrypt), per-user and
 * per-source rate limits on wrong passwords, session creation, and the
 * initial admin user created on first start.
 */
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { generatePassword, hashPassword, verifyPassword, type ScryptParams, DEFAULT_SCRYPT } from '../lib/password.js';
import { RateLimiter } from '../lib/rate.js';
import type { SessionRepo } from '../store/sessions.js';
import type { Role } from '../store/tokens.js';
import type { User, UserRepo } from '../store/users.js';

/** Limits on wrong passwords: a burst, then `perMinute` sustained. */
export interface LoginLimits {
  perUser: { burst: number; perMinute: number };
  perSource: { burst: number; perMinute: number };
}

/** Default: 5 wrong passwords per user then 1/min; 20 per source then 6/min. */
export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perUser: { burst: 5, perMinute: 1 }, perSource: { burst: 20, perMinute: 6 } };

/** Roles known to the appliance. */
export const ROLES: readonly Role[] = ['admin', 'operator', 'readonly'];

/** True for a role name. */
export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (ROLES as readonly string[]).includes(s);
}

const NAME = /^[a-z][a-z0-9_.-]{0,63}$/i;

/** A successful login. */
export interface LoginResult {
  user: User;
  sessionId: string;
  csrf: string;
}

/** Account management and login. */
export class AccountService {
  private readonly byUser: RateLimiter;
  private readonly bySource: RateLimiter;
  private dummyHash: Promise<string> | null = null;

  constructor(
    private readonly users: UserRepo,
    private readonly sessions: SessionRepo,
    private readonly clock: Clock,
    private readonly log: Logger,
    limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly scrypt: ScryptParams = DEFAULT_SCRYPT,
  ) {
    this.byUser = new RateLimiter(limits.perUser.perMinute / 60, limits.perUser.burst, 10_000);
    this.bySource = new RateLimiter(limits.perSource.perMinute / 60, limits.perSource.burst, 10_000);
  }

  /**
   * Verify a user's password and open a session. Wrong passwords count against
   * the user name and the source address; once either is over its limit every
   * attempt (right or wrong) is refused with `rate_limited` until it refills.
   */
  async login(name: string, password: string, source: string): Promise<LoginResult> {
    const now = this.clock.now();
    const userKey = name.toLowerCase();
    if (!this.byUser.peek(userKey, now) || !this.bySource.peek(source, now)) {
      const retry = Math.max(this.byUser.retryAfter(userKey, now), this.bySource.retryAfter(source, now), 1);
      this.log.warn('login refused: too many wrong passwords', { user: name, source });
      throw new CrowbarError('rate_limited', `too many failed logins; try again in ${retry} s`, { retry_after: retry });
    }
    const rec = this.users.passwordHash(name);
    // Hash even for unknown users so timing does not reveal which names exist.
    const ok = rec ? await verifyPassword(password, rec.hash) : (await verifyPassword(password, await this.dummy()), false);
    if (!ok || !rec) {
      this.byUser.take(userKey, this.clock.now());
      this.bySource.take(source, this.clock.now());
      this.log.warn('login failed', { user: name, source });
      throw new CrowbarError('unauthorized', 'wrong user name or password');
    }
    const s = this.sessions.create(rec.id, source, this.clock.now());
    this.users.touchLogin(rec.id, this.clock.now());
    this.log.info('login', { user: name, source });
    return { user: this.users.get(rec.id)!, sessionId: s.id, csrf: s.csrf };
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(generatePassword(), this.scrypt);
    return this.dummyHash;
  }

  /** Create a user (admin action). */
  async createUser(name: string, role: Role, password: string): Promise<User> {
    if (!NAME.test(name)) throw new CrowbarError('bad_request', 'body.name: 1-64 letters, digits, "_", "." or "-", starting with a letter');
    if (!isRole(role)) throw new CrowbarError('bad_request', `body.role: one of ${ROLES.join(', ')}`);
    checkPassword(password);
    return this.users.create(name, role, await hashPassword(password, this.scrypt), this.clock.now());
  }

  /** Change a user's password; ends their other sessions. */
  async setPassword(name: string, password: string): Promise<void> {
    const u = this.mustGet(name);
    checkPassword(password);
    this.users.update(u.id, { passwordHash: await hashPassword(password, this.scrypt) }, this.clock.now());
    this.sessions.removeForUser(u.id);
  }

  /** Change a user's role; ends their sessions. The last admin stays admin. */
  setRole(name: string, role: Role): User {
    const u = this.mustGet(name);
    if (!isRole(role)) throw new CrowbarError('bad_request', `body.role: one of ${ROLES.join(', ')}`);
    if (u.role === 'admin' && role !== 'admin' && this.users.adminCount() <= 1) throw new CrowbarError('conflict', 'cannot demote the last admin');
    this.users.update(u.id, { role }, this.clock.now());
    this.sessions.removeForUser(u.id);
    return this.users.get(u.id)!;
  }

  /** Delete a user and their sessions. The last admin cannot be deleted. */
  deleteUser(name: string): void {
    const u = this.mustGet(name);
    if (u.role === 'admin' && this.users.adminCount() <= 1) throw new CrowbarError('conflict', 'cannot delete the last admin');
    this.users.remove(u.id);
  }

  /** All users. */
  list(): User[] {
    return this.users.list();
  }

  /** User by name; throws not_found. */
  mustGet(name: string): User {
    const u = this.users.getByName(name);
    if (!u) throw new CrowbarError('not_found', `user ${name} not found`);
    return u;
  }

  /**
   * First start: create user `admin` with a generated password and return
   * it (the caller writes it 0600 and prints it once); null when users exist.
   */
  async ensureInitialAdmin(): Promise<string | null> {
    if (this.users.count() > 0) return null;
    const password = generatePassword();
    await this.createUser('admin', 'admin', password);
    return password;
  }
}

function checkPassword(p: unknown): asserts p is string {
  if (typeof p !== 'string' || p.length < 10) throw new CrowbarError('bad_request', 'body.password: at least 10 characters');
  if (p.length > 1024) throw new CrowbarError('bad_request', 'body.password: at most 1024 characters');
}
