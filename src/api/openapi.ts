/**
 * OpenAPI 3.0 document of the REST API, generated at request time from the
 * live route table (so routes added by any module are listed) with each
 * route's description, auth requirement and minimum role.
 */
import type { Server } from '@hapi/hapi';

/** Minimum roles of routes registered without `app.role` (core node routes). */
const KNOWN_ROLES: Record<string, string> = {
  'post /api/v1/nodes': 'operator',
  'post /api/v1/nodes/{name}/transition': 'operator',
};

/** Descriptions of core routes registered without one. */
const KNOWN_DESCRIPTIONS: Record<string, string> = {
  'get /api/v1/health': 'Health and service status (no auth)',
  'get /api/v1/nodes': 'List nodes',
  'post /api/v1/nodes': 'Create a node {macs, name?}',
  'get /api/v1/nodes/{name}': 'One node (inventory, BMC address, state)',
  'get /api/v1/nodes/{name}/events': 'Event log of a node, newest first',
  'post /api/v1/nodes/{name}/transition': 'Request a transition {to, reason?}: a state, an admin action (reset, reinstall, update, delete) or a power action (reboot, shutdown, poweron, identify)',
  'get /api/v1/whoami': 'The authenticated principal',
};

interface RouteLike {
  method: string;
  path: string;
  settings: { auth?: unknown; description?: string; app?: Record<string, unknown>; notes?: string | string[] };
}

/** Build the document from the server's route table. */
export function buildOpenApi(server: Server, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const routes = (server.table() as unknown as RouteLike[]).filter((r) => r.path.startsWith('/api/v1')).sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  for (const r of routes) {
    const method = r.method.toLowerCase();
    const key = `${method} ${r.path}`;
    const path = r.path.replace(/\{(\w+)(\*\d*|\?)?\}/g, '{$1}');
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const open = r.settings.auth === false;
    const role = (r.settings.app?.role as string | undefined) ?? KNOWN_ROLES[key] ?? (open ? null : method === 'get' ? 'readonly' : null);
    const op: Record<string, unknown> = {
      summary: r.settings.description ?? KNOWN_DESCRIPTIONS[key] ?? `${r.method.toUpperCase()} ${r.path}`,
      operationId: `${method}_${path.replace(/^\/api\/v1\//, '').replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+/g, '_')}`,
      tags: [path.split('/')[3] ?? 'api'],
      security: open ? [] : [{ bearer: [] }, { session: [] }],
      'x-crowbar-auth': open ? 'none' : 'token or session',
      'x-crowbar-role': role ?? 'authenticated (the handler checks the role per request)',
      ...(params.length ? { parameters: params } : {}),
      ...(['post', 'put', 'patch'].includes(method) ? { requestBody: { required: false, content: { 'application/json': { schema: { type: 'object' } } } } } : {}),
      responses: {
        '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } },
        ...(open ? {} : { '401': { $ref: '#/components/responses/Error' }, '403': { $ref: '#/components/responses/Error' } }),
        '400': { $ref: '#/components/responses/Error' },
        '404': { $ref: '#/components/responses/Error' },
      },
    };
    if (path === '/api/v1/events/stream') (op.responses as Record<string, unknown>)['200'] = { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } };
    (paths[path] ??= {})[method] = op;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Crowbar appliance API',
      version,
      description:
        'Every route needs a bearer token (CLI/API) or a console session cookie unless its security list is empty. State-changing requests made with a session must send X-CSRF-Token (from GET /api/v1/session) and come from the same origin. Errors are {error, message, details?}.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API token (crowbar CLI: <data_dir>/admin.token or POST /api/v1/tokens)' },
        session: { type: 'apiKey', in: 'cookie', name: 'crowbar_session', description: 'Console session from POST /api/v1/session (__Host-crowbar_session over https); needs X-CSRF-Token on POST/PUT/PATCH/DELETE' },
      },
      schemas: {
        Error: { type: 'object', required: ['error', 'message'], properties: { error: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } },
      },
      responses: { Error: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } },
    },
    paths,
  };
}

/** Register GET /api/v1/openapi.json (no auth: the document holds no secrets). */
export function registerOpenApiRoute(server: Server, version: string): void {
  let cached: Record<string, unknown> | null = null;
  server.route({
    method: 'GET',
    path: '/api/v1/openapi.json',
    options: { auth: false, description: 'This OpenAPI 3 document' },
    handler: () => (cached ??= buildOpenApi(server, version)),
  });
}
