/** Admin routes for users (/api/v1/users) and API tokens (/api/v1/tokens). */
import type { Server } from '@hapi/hapi';
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import { isRole, type AccountService } from '../services/accounts.js';
import type { TokenAdmin, TokenRepo } from '../store/tokens.js';
import { principalOf, requireRole } from './auth.js';
import { bodyObject, onlyKeys, optString, reqString } from './validate.js';

const ADMIN = { role: 'admin' };

/** Register user and token management routes. */
export function registerUserRoutes(server: Server, accounts: AccountService, tokens: TokenRepo, tokenAdmin: TokenAdmin, clock: Clock): void {
  server.route([
    {
      method: 'GET',
      path: '/api/v1/users',
      options: { description: 'List users', app: ADMIN },
      handler: (req) => {
        requireRole(req, 'admin');
        return { users: accounts.list() };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/users',
      options: { description: 'Create a user {name, role, password}', app: ADMIN, payload: { maxBytes: 8 * 1024 } },
      handler: async (req, h) => {
        requireRole(req, 'admin');
        const b = bodyObject(req.payload);
        onlyKeys(b, ['name', 'role', 'password']);
        const role = reqString(b, 'role', 16);
        if (!isRole(role)) throw new CrowbarError('bad_request', 'body.role: one of admin, operator, readonly');
        const u = await accounts.createUser(reqString(b, 'name', 64), role, reqString(b, 'password', 1024));
        return h.response(u).code(201);
      },
    },
    {
      method: 'PATCH',
      path: '/api/v1/users/{name}',
      options: { description: 'Change role (admin) or password (admin, or the user for their own)', payload: { maxBytes: 8 * 1024 } },
      handler: async (req) => {
        const p = principalOf(req);
        const name = String(req.params.name);
        const self = p.kind === 'session' && p.name === name;
        const b = bodyObject(req.payload);
        onlyKeys(b, ['role', 'password']);
        const role = optString(b, 'role', 16);
        const password = optString(b, 'password', 1024);
        if (role === undefined && password === undefined) throw new CrowbarError('bad_request', 'body: give role and/or password');
        if (role !== undefined || !self) requireRole(req, 'admin');
        if (role !== undefined) {
          if (!isRole(role)) throw new CrowbarError('bad_request', 'body.role: one of admin, operator, readonly');
          accounts.setRole(name, role);
        }
        if (password !== undefined) await accounts.setPassword(name, password);
        return accounts.mustGet(name);
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/users/{name}',
      options: { description: 'Delete a user and their sessions', app: ADMIN },
      handler: (req, h) => {
        requireRole(req, 'admin');
        accounts.deleteUser(String(req.params.name));
        return h.response().code(204);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/tokens',
      options: { description: 'List API tokens (never their secrets)', app: ADMIN },
      handler: (req) => {
        requireRole(req, 'admin');
        return { tokens: tokenAdmin.list() };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/tokens',
      options: { description: 'Create an API token {name, role}; the secret is returned once', app: ADMIN, payload: { maxBytes: 4 * 1024 } },
      handler: (req, h) => {
        requireRole(req, 'admin');
        const b = bodyObject(req.payload);
        onlyKeys(b, ['name', 'role']);
        const name = reqString(b, 'name', 64);
        const role = reqString(b, 'role', 16);
        if (!isRole(role)) throw new CrowbarError('bad_request', 'body.role: one of admin, operator, readonly');
        const { token, record } = tokens.create(name, role, clock.now());
        return h.response({ ...record, token }).code(201).header('cache-control', 'no-store');
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/tokens/{id}',
      options: { description: 'Revoke an API token', app: ADMIN },
      handler: (req, h) => {
        requireRole(req, 'admin');
        const id = Number(req.params.id);
        if (!Number.isInteger(id) || !tokenAdmin.revoke(id)) throw new CrowbarError('not_found', `token ${String(req.params.id)} not found`);
        return h.response().code(204);
      },
    },
  ]);
}
