/**
 * The authorisation matrix (issue 7): every endpoint of the running app × every kind of caller —
 * no key, a malformed header, an unknown key, a revoked key, an unknown user token, a key with
 * each scope, a user token for the user the request is about and one for another user — answers as
 * docs/api.md#access says.
 *
 * Three lists must agree, or the test fails: the routes the app really serves (read from Fastify's
 * own router with printRoutes, so a new endpoint cannot go untested), the access table of
 * docs/api.md (who may call what: the expected answers come from it), and CALLS below (how to call
 * each endpoint, and what an admitted caller gets). WebSocket `/v1/stream` is checked with real
 * WebSocket clients: header and first-message sign-in, and that a user sees only its own inbox.
 */
import assert from 'node:assert/strict';
import { createECDH } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { WebSocket } from 'ws';
import { InAppChannel } from '../../src/channels/inapp.js';
import { uuidv7 } from '../../src/events/uuid7.js';
import { buildApp, type VigilApp } from '../../src/http/app.js';
import { TrustService } from '../../src/trust/service.js';
import { createKey, hasScope, revokeKey, SCOPES, type Scope } from '../../src/http/apiKeys.js';
import { StreamHub } from '../../src/http/stream/hub.js';
import { InterventionService } from '../../src/interventions/service.js';
import { createUser, type User } from '../../src/notifications/users.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, openTestStore, tempDir, type Backend } from '../helpers/stores.js';
import { ev, http, remainingHandles, type Answer } from '../http/harness.js';
import { notification, StreamClient } from '../http/streamClient.js';

const DOCS = new URL('../../docs/api.md', import.meta.url);

// ---- who calls ----------------------------------------------------------------------------------

const CALLERS = ['none', 'malformed', 'unknown key', 'revoked key', 'unknown user token', ...SCOPES, 'user (own)', 'user (other)'] as const;
type Caller = (typeof CALLERS)[number];

// ---- who may call what: docs/api.md#access --------------------------------------------------------

/** A row of the docs' access table: nobody needs a key, or the scope a key needs and whether user tokens may call. */
type Access = { public: true } | { public: false; scope: Scope; users: boolean };

/** `METHOD /path` (path in the docs' `{param}` form, or `/docs/…`) → who may call it. */
function docsAccessTable(text: string): Map<string, Access> {
  const start = text.indexOf('<a id="access"></a>');
  assert.ok(start >= 0, 'docs/api.md has no access table (<a id="access">)');
  const lines = text.slice(start).split('\n');
  const head = lines.findIndex((l) => /^\| Endpoint \| Who \|$/.test(l));
  assert.ok(head >= 0, 'the access table of docs/api.md has no "| Endpoint | Who |" header');
  const table = new Map<string, Access>();
  for (const line of lines.slice(head + 2)) {
    if (!line.startsWith('|')) break;
    const [endpoints, who] = line.split('|').slice(1, 3).map((c) => c.trim());
    let plain = who;
    while (/\([^()]*\)/.test(plain)) plain = plain.replace(/\([^()]*\)/g, '');
    const scopes = [...plain.matchAll(/`([a-z]+)`/g)].map((m) => m[1]).filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
    const access: Access = /^none\b/.test(plain) ? { public: true } : { public: false, scope: scopes[0], users: /user token/.test(plain) };
    if (!access.public) assert.equal(scopes.length, 1, `docs/api.md access table: "${who}" must name exactly one scope`);
    for (const m of endpoints.matchAll(/`(GET|POST|PUT|DELETE|PATCH) (\/[^`]*)`/g)) {
      const key = `${m[1]} ${m[2]}`;
      assert.ok(!table.has(key), `docs/api.md lists ${key} twice`);
      table.set(key, access);
    }
  }
  return table;
}

// ---- what the app serves -------------------------------------------------------------------------

/** Every (method, route) Fastify's router holds, from printRoutes' tree (each node's path is its ancestors' joined). */
function servedRoutes(app: VigilApp): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[└├]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (m === null) continue;
    stack.length = m[1].length / 4;
    stack.push(m[2]);
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) out.push(`${method} ${stack.join('')}`);
  }
  return [...new Set(out)].sort();
}

// ---- the app under test --------------------------------------------------------------------------

/** The dashboard's files for this test: served by @fastify/static one route each, like the real build. */
const DASHBOARD_FILES: Record<string, string> = { 'index.html': '<!doctype html><title>Vigil</title>', 'sw.js': 'self;', 'assets/app-0a1b2c.js': 'void 0;' };

interface Fixture {
  app: VigilApp;
  store: Store;
  hub: StreamHub;
  url: string;
  dashboard: string;
  close(): Promise<void>;
}

/**
 * startHarness (test/http/harness.ts) with what it cannot take: the interventions service (it
 * needs the store the harness opens), a hub with a short auth timeout, a built dashboard.
 */
async function startApp(backend: Backend): Promise<Fixture> {
  const env = await backend.setup();
  const store = await openTestStore(env);
  const log = pino({ level: 'silent' });
  const interventions = new InterventionService({ store, logger: log });
  const hub = new StreamHub({ log, authTimeoutMs: 300 });
  await hub.start();
  const dashboard = tempDir('vigil-authz-dashboard-');
  for (const [file, text] of Object.entries(DASHBOARD_FILES)) {
    mkdirSync(join(dashboard, file, '..'), { recursive: true });
    writeFileSync(join(dashboard, file), text);
  }
  const trust = new TrustService(store, { store: { data_dir: env.dataDir, pool_size: 1 }, trust: { checkpoint_interval_ms: 0 }, retention: { interval_ms: 86_400_000 } });
  const app = await buildApp({ store, log, interventions, trust, hub, dashboardRoot: dashboard, rateLimitPerMinute: 0 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    app,
    store,
    hub,
    url,
    dashboard,
    close: async () => {
      await app.close();
      await hub.close();
      await interventions.close();
      await store.close();
      await env.cleanup();
      rmSync(dashboard, { recursive: true, force: true });
    },
  };
}

/** The route of a served file of the dashboard (`/` is its index). */
function isDashboardFile(root: string, path: string): boolean {
  if (path === '/') return true;
  const file = join(root, path);
  return existsSync(file) && statSync(file).isFile();
}

/** The docs' row for a served route: `:param` is written `{param}`; `/docs/…` and the dashboard's files are one row each. */
function docsKey(route: string, dashboard: string): string {
  const [method, path] = route.split(' ');
  if (path.startsWith('/docs/')) return `${method} /docs/…`;
  if (isDashboardFile(dashboard, path)) return `${method} /`;
  return `${method} ${path.replace(/:([A-Za-z_]+)/g, '{$1}')}`;
}

// ---- how to call each endpoint, and what an admitted caller gets ---------------------------------

interface Expect {
  status: number;
  /** The error code, when the answer is an error. */
  code?: number;
}

interface Call {
  /** The URL to request (ids of things made in `seed`). */
  path: string;
  body?: (who: Caller) => unknown;
  /** What a caller the table admits gets (default 200). */
  admitted?: (who: Caller) => Expect;
}

interface Seed {
  alice: User & { token: string };
  bob: User & { token: string };
  aliceNotification: string;
  eventId: string;
  toAck: string;
  toResolve: string;
  errorThreshold: number;
}

const P256DH = createECDH('prime256v1');
P256DH.generateKeys();
const subscription = (who: Caller) => ({
  endpoint: `https://push.example.test/authz/${encodeURIComponent(who)}`,
  keys: { p256dh: P256DH.getPublicKey('base64url'), auth: Buffer.alloc(16, 7).toString('base64url') },
});

/** Keyed by the served route (`METHOD /fastify/:pattern`). */
function calls(s: Seed): Record<string, Call> {
  const missing = uuidv7();
  const inbox = (path: string): Call => ({
    path: `${path}${path.includes('?') ? '&' : '?'}user_id=${s.alice.id}`,
    // The request is about alice's inbox: bob's token may not name it.
    admitted: (who) => (who === 'user (other)' ? { status: 403, code: 40320 } : { status: 200 }),
  });
  const pushSubscription: Call = {
    path: '/v1/push/subscriptions',
    body: subscription,
    admitted: (who) => (who === 'admin' ? { status: 400, code: 40006 } : { status: 200 }),
  };
  const page = (path: string, status = 200): Call => ({ path, admitted: () => ({ status }) });
  return {
    'POST /v1/events': { path: '/v1/events', body: () => ev.created('authz-task') },
    'GET /v1/events': { path: '/v1/events' },
    'GET /v1/events/export': { path: '/v1/events/export' },
    'GET /v1/events/:id': { path: `/v1/events/${s.eventId}` },
    'GET /v1/stats/:name': { path: '/v1/stats/costs' },
    'POST /v1/keys': { path: '/v1/keys', body: () => ({ name: 'authz made', scopes: ['read'] }), admitted: () => ({ status: 201 }) },
    'GET /v1/keys': { path: '/v1/keys' },
    'DELETE /v1/keys/:ref': { path: '/v1/keys/authz-no-such-key', admitted: () => ({ status: 404, code: 40403 }) },
    'POST /v1/users': { path: '/v1/users', body: () => ({ name: 'authz-carol' }), admitted: () => ({ status: 201 }) },
    'GET /v1/users': { path: '/v1/users' },
    'POST /v1/users/:ref/tokens': { path: `/v1/users/${s.alice.name}/tokens`, admitted: () => ({ status: 201 }) },
    'GET /v1/notifications': inbox('/v1/notifications'),
    'GET /v1/notifications/unread-count': inbox('/v1/notifications/unread-count'),
    'POST /v1/notifications/:id/read': inbox(`/v1/notifications/${s.aliceNotification}/read`),
    'POST /v1/notifications/read-all': inbox('/v1/notifications/read-all'),
    'GET /v1/push/vapid-public-key': { path: '/v1/push/vapid-public-key' },
    'POST /v1/push/subscriptions': { ...pushSubscription, admitted: (who) => (who === 'admin' ? { status: 400, code: 40006 } : { status: 201 }) },
    'DELETE /v1/push/subscriptions': { ...pushSubscription, body: (who) => ({ endpoint: subscription(who).endpoint }) },
    'GET /v1/deliveries': { path: '/v1/deliveries' },
    'GET /v1/deliveries/:id': { path: `/v1/deliveries/${missing}`, admitted: () => ({ status: 404, code: 40430 }) },
    'POST /v1/deliveries/:id/retry': { path: `/v1/deliveries/${missing}/retry`, admitted: () => ({ status: 404, code: 40430 }) },
    'POST /v1/interventions/check': { path: '/v1/interventions/check', body: () => ({ task: { id: 'authz-check', confidence: 0.9 }, dry_run: true }) },
    // The first admitted caller (admin, in CALLERS' order) opens it: 201; the next adds an occurrence: 200.
    'POST /v1/interventions': { path: '/v1/interventions', body: () => ({ level: 'WARNING', title: 'authz', task_id: 'authz-open' }), admitted: (who) => ({ status: who === 'admin' ? 201 : 200 }) },
    'GET /v1/interventions': { path: '/v1/interventions' },
    'GET /v1/interventions/:id': { path: `/v1/interventions/${s.toAck}` },
    'POST /v1/interventions/:id/ack': { path: `/v1/interventions/${s.toAck}/ack` },
    'POST /v1/interventions/:id/resolve': { path: `/v1/interventions/${s.toResolve}/resolve`, body: () => ({ note: 'authz' }) },
    'GET /v1/thresholds': { path: '/v1/thresholds' },
    'PUT /v1/thresholds': { path: '/v1/thresholds', body: () => ({ error_threshold: s.errorThreshold }) },
    'POST /v1/tasks/:task_id/errors': { path: '/v1/tasks/authz-task/errors', body: () => ({ message: 'authz' }), admitted: () => ({ status: 201 }) },
    'GET /v1/tasks/:task_id/errors': { path: '/v1/tasks/authz-task/errors' },
    'DELETE /v1/tasks/:task_id/errors': { path: '/v1/tasks/authz-task/errors' },
    'POST /v1/silences': {
      path: '/v1/silences',
      body: () => ({ matchers: [{ field: 'reasons', op: 'eq', value: 'AUTHZ' }], duration: '1h' }),
      admitted: () => ({ status: 201 }),
    },
    'GET /v1/silences': { path: '/v1/silences' },
    'DELETE /v1/silences/:id': { path: `/v1/silences/${missing}`, admitted: () => ({ status: 404, code: 40411 }) },
    'POST /v1/trust/verify': { path: '/v1/trust/verify', body: () => ({}) },
    'GET /v1/trust/checkpoints': { path: '/v1/trust/checkpoints' },
    'POST /v1/trust/checkpoints': { path: '/v1/trust/checkpoints', body: () => ({ force: true }), admitted: () => ({ status: 201 }) },
    'POST /v1/trust/retention': { path: '/v1/trust/retention', body: () => ({ older_than: '3650d', dry_run: true }) },
    // The stream is a WebSocket: it has its own tests below.
    'GET /v1/stream': { path: '/v1/stream' },
    'GET /healthz': page('/healthz'),
    'GET /readyz': page('/readyz'),
    'GET /metrics': page('/metrics'),
    'GET /openapi.json': page('/openapi.json'),
    'GET /docs': page('/docs'),
    'GET /docs/': page('/docs/'),
    'GET /docs/json': page('/docs/json'),
    'GET /docs/yaml': page('/docs/yaml'),
    'GET /docs/static/index.html': page('/docs/static/index.html', 302),
    'GET /docs/static/swagger-initializer.js': page('/docs/static/swagger-initializer.js'),
    'GET /docs/*': page('/docs/static/swagger-ui.css'),
    'GET /': page('/'),
    ...Object.fromEntries(Object.keys(DASHBOARD_FILES).map((f) => [`GET /${f}`, page(`/${f}`)])),
    'GET /interventions/:id': page(`/interventions/${s.toAck}`, 302),
    'GET /tasks/:id/review': page('/tasks/authz-task/review', 302),
  };
}

/** What `who` must get from an endpoint with this access. */
function expected(access: Access, call: Call, who: Caller): Expect & { error?: RegExp } {
  const admitted = () => call.admitted?.(who) ?? { status: 200 };
  if (access.public) return admitted();
  const scope = access.scope;
  switch (who) {
    case 'none':
      return { status: 401, code: 40101, error: new RegExp(`Authorization: Bearer <key>.*"${scope}" scope`) };
    case 'malformed':
      return { status: 401, code: 40103 };
    case 'unknown key':
    case 'revoked key':
    case 'unknown user token':
      return { status: 401, code: 40102, error: /unknown or revoked/ };
    case 'user (own)':
    case 'user (other)':
      return access.users ? admitted() : { status: 403, code: 40320 };
    default:
      return hasScope([who], scope) ? admitted() : { status: 403, code: 40301, error: new RegExp(`^the API key "authz ${who}" lacks the "${scope}" scope this endpoint requires \\(it has: ${who}\\)$`) };
  }
}

const AUTH_CODES = new Set([40101, 40102, 40103, 40301, 40302, 40320]);

for (const backend of BACKENDS) {
  describe(`the authorisation matrix on ${backend.name}`, { skip: backend.skip }, () => {
    let f: Fixture;
    let seed: Seed;
    let table: Map<string, Access>;
    let routes: string[];
    const tokens = {} as Record<Caller, string | null>;
    const streams: StreamClient[] = [];

    before(async () => {
      f = await startApp(backend);
      table = docsAccessTable(readFileSync(DOCS, 'utf8'));
      routes = servedRoutes(f.app);
      for (const scope of SCOPES) tokens[scope] = (await createKey(f.store, { name: `authz ${scope}`, scopes: [scope] })).key;
      const revoked = await createKey(f.store, { name: 'authz revoked', scopes: ['admin'] });
      await revokeKey(f.store, revoked.id);
      const alice = await createUser(f.store, 'alice');
      const bob = await createUser(f.store, 'bob');
      Object.assign(tokens, {
        none: null,
        malformed: null,
        'unknown key': 'vgl_' + 'x'.repeat(43),
        'revoked key': revoked.key,
        'unknown user token': 'vgu_' + 'x'.repeat(43),
        'user (own)': alice.token,
        'user (other)': bob.token,
      });
      const inApp = new InAppChannel(f.store);
      await inApp.send(notification({ title: 'for alice' }), { channel: 'in_app', address: 'alice' });
      await inApp.send(notification({ title: 'for bob' }), { channel: 'in_app', address: 'bob' });
      const { rows } = await f.store.query<{ id: string }>('SELECT id::text AS id FROM notifications WHERE user_id = $1', [alice.id]);
      const admin = tokens.admin!;
      const stored = await http(`${f.url}/v1/events`, { key: admin, json: ev.created('authz-seed') });
      const open = async (task: string) => {
        const r = await http(`${f.url}/v1/interventions`, { key: admin, json: { level: 'URGENT', title: `authz ${task}`, task_id: task } });
        assert.equal(r.status, 201, r.text);
        return (r.body.intervention as { id: string }).id;
      };
      const thresholds = await http(`${f.url}/v1/thresholds`, { key: admin });
      seed = {
        alice,
        bob,
        aliceNotification: rows[0].id,
        eventId: (stored.body.results as { id: string }[])[0].id,
        toAck: await open('authz-ack'),
        toResolve: await open('authz-resolve'),
        errorThreshold: thresholds.body.error_threshold as number,
      };
    });
    after(async () => {
      for (const c of streams) await c.close();
      await f.close();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });

    const send = (who: Caller, method: string, path: string, body?: unknown): Promise<Answer> => {
      const headers: Record<string, string> = who === 'malformed' ? { authorization: 'Basic dTpw' } : {};
      if (body === undefined) return http(f.url + path, { method, key: tokens[who] ?? undefined, headers });
      // node:http sends a DELETE body unframed unless told its length.
      const text = JSON.stringify(body);
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      return http(f.url + path, { method, key: tokens[who] ?? undefined, headers, body: text });
    };

    it('serves exactly the endpoints of the matrix, each in the access table of docs/api.md, and HEAD alike for each GET', () => {
      assert.ok(routes.length > 40 && routes.includes('POST /v1/events'), `printRoutes was not understood: ${routes.join(', ')}`);
      const served = routes.filter((r) => !r.startsWith('HEAD '));
      const inMatrix = Object.keys(calls(seed)).sort();
      assert.deepEqual(
        { unlisted: served.filter((r) => !inMatrix.includes(r)), gone: inMatrix.filter((r) => !served.includes(r)) },
        { unlisted: [], gone: [] },
        'an endpoint is served without an entry in the authorisation matrix (add it to CALLS and to docs/api.md#access), or the matrix names one no longer served',
      );
      const undocumented = served.filter((r) => !table.has(docsKey(r, f.dashboard)));
      assert.deepEqual(undocumented, [], 'served endpoints missing from the access table of docs/api.md');
      const documented = new Set(served.map((r) => docsKey(r, f.dashboard)));
      assert.deepEqual([...table.keys()].filter((k) => !documented.has(k)), [], 'docs/api.md lists endpoints the app does not serve');
      const heads = routes.filter((r) => r.startsWith('HEAD ')).map((r) => r.slice(5));
      assert.deepEqual(heads.sort(), served.filter((r) => r.startsWith('GET ')).map((r) => r.slice(4)).sort(), 'HEAD is served for each GET, and only those');
    });

    it('answers every endpoint × caller as the table says (status, code, and a message saying which)', async () => {
      const failures: string[] = [];
      let checked = 0;
      for (const [route, call] of Object.entries(calls(seed))) {
        if (route === 'GET /v1/stream') continue;
        const [method] = route.split(' ');
        const access = table.get(docsKey(route, f.dashboard))!;
        for (const who of CALLERS) {
          const want = expected(access, call, who);
          for (const m of method === 'GET' ? ['GET', 'HEAD'] : [method]) {
            const r = await send(who, m, call.path, call.body?.(who));
            checked++;
            const label = `${m} ${call.path} as ${who}: ${r.status} ${r.text.slice(0, 200)}`;
            if (r.status !== want.status) failures.push(`${label} (expected ${want.status}${want.code ? ` ${want.code}` : ''})`);
            else if (m === 'HEAD') continue;
            else if (want.code !== undefined && r.body.code !== want.code) failures.push(`${label} (expected code ${want.code})`);
            else if (want.error && !want.error.test(String(r.body.error))) failures.push(`${label} (expected the error to match ${want.error})`);
            else if (want.code === undefined && AUTH_CODES.has(r.body.code as number)) failures.push(`${label} (admitted, yet an authentication error)`);
            else if (/\b(vgl|vgu)_x{43}\b/.test(r.text)) failures.push(`${label} (the token is echoed)`);
          }
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${checked} answers differ from docs/api.md#access`);
      assert.ok(checked > 700, `only ${checked} requests made`);
    });

    it('marks in /openapi.json the same access as the table', async () => {
      const doc = (await send('none', 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown; description?: string }>> };
      const seen = new Set<string>();
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const key = `${method.toUpperCase()} ${path}`;
          seen.add(key);
          const access = table.get(key);
          assert.ok(access, `${key} is in /openapi.json but not in docs/api.md#access`);
          assert.equal(op.security !== undefined, !access.public, `${key}: security`);
          if (access.public) continue;
          assert.match(String(op.description), new RegExp(`Requires an API key with the \`${access.scope}\` scope`), key);
          assert.equal(/or a user token \(vgu_…\) for its own user/.test(String(op.description)), access.users, `${key}: user tokens`);
        }
      }
      // Every endpoint needing a key is there, the WebSocket stream included.
      const missing = [...table].filter(([k, a]) => !a.public && !seen.has(k)).map(([k]) => k);
      assert.deepEqual(missing, [], 'endpoints needing a key but absent from /openapi.json');
    });

    it('shows a user token its own inbox only', async () => {
      const inApp = new InAppChannel(f.store);
      await inApp.send(notification({ title: 'alice only' }), { channel: 'in_app', address: 'alice' });
      const { rows } = await f.store.query<{ id: string }>("SELECT id::text AS id FROM notifications WHERE title = 'alice only'");
      const mine = rows[0].id;
      const list = async (who: Caller) => (await send(who, 'GET', '/v1/notifications?limit=200')).body.notifications as { id: string; user_id: string }[];
      const aliceSees = await list('user (own)');
      assert.ok(aliceSees.some((n) => n.id === mine));
      assert.ok(aliceSees.every((n) => n.user_id === seed.alice.id));
      const bobSees = await list('user (other)');
      assert.ok(bobSees.length > 0 && bobSees.every((n) => n.user_id === seed.bob.id), JSON.stringify(bobSees));
      assert.equal((await send('user (other)', 'GET', `/v1/notifications?user_id=${seed.alice.id}`)).body.code, 40320);
      const stolen = await send('user (other)', 'POST', `/v1/notifications/${mine}/read`);
      assert.equal(stolen.status, 404);
      assert.equal(stolen.body.code, 40421);
      const unread = await f.store.query<{ is_read: boolean }>('SELECT is_read FROM notifications WHERE id = $1', [mine]);
      assert.equal(unread.rows[0].is_read, false, "bob's attempt left alice's notification unread");
      assert.equal((await send('user (other)', 'POST', '/v1/notifications/read-all')).status, 200);
      const stillUnread = await send('user (own)', 'GET', '/v1/notifications/unread-count');
      assert.ok((stillUnread.body.unread_count as number) >= 1, "bob's read-all did not touch alice's inbox");
      // An admin key names the inbox; without user_id it is refused, and a read key may not.
      assert.equal((await send('admin', 'GET', '/v1/notifications')).body.code, 40004);
      const asAdmin = (await send('admin', 'GET', `/v1/notifications?limit=200&user_id=${seed.bob.id}`)).body.notifications as { user_id: string }[];
      assert.ok(asAdmin.every((n) => n.user_id === seed.bob.id));
      assert.equal((await send('read', 'GET', `/v1/notifications?user_id=${seed.bob.id}`)).body.code, 40301);
      // Push subscriptions: bob cannot remove alice's.
      const ownSub = { ...subscription('user (own)'), endpoint: 'https://push.example.test/authz/alice-only' };
      assert.equal((await send('user (own)', 'POST', '/v1/push/subscriptions', ownSub)).status, 201);
      assert.deepEqual((await send('user (other)', 'DELETE', '/v1/push/subscriptions', { endpoint: ownSub.endpoint })).body, { deleted: false });
      const subs = await f.store.query<{ user_id: string }>('SELECT user_id FROM push_subscriptions WHERE endpoint = $1', [ownSub.endpoint]);
      assert.deepEqual(subs.rows.map((r) => r.user_id), [seed.alice.id]);
    });

    /** Opens the stream; with `header`, the token goes in Authorization, else in the first message. */
    const openStream = (who: Caller, header: boolean): Promise<StreamClient | { status: number }> => {
      const token = tokens[who];
      const headers: Record<string, string> = {};
      if (header && who === 'malformed') headers.authorization = 'Basic dTpw';
      else if (header && token !== null) headers.authorization = `Bearer ${token}`;
      const ws = new WebSocket(`${f.url.replace(/^http/, 'ws')}/v1/stream`, { headers });
      const c = new StreamClient(ws, who);
      return new Promise((resolve, reject) => {
        ws.once('open', () => {
          streams.push(c);
          if (!header && token !== null) c.send({ type: 'auth', token });
          resolve(c);
        });
        ws.once('unexpected-response', (_req, res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0 });
          ws.terminate();
        });
        ws.once('error', reject);
      });
    };

    const streamWelcomes = (who: Caller): boolean => who === 'read' || who === 'admin' || who === 'user (own)' || who === 'user (other)';

    it('refuses an unauthorised WebSocket upgrade (HTTP 401/403) and admits read keys and users', async () => {
      for (const who of CALLERS) {
        if (who === 'none') continue;
        const c = await openStream(who, true);
        if (streamWelcomes(who)) {
          assert.ok(c instanceof StreamClient, `${who}: refused with HTTP ${(c as { status: number }).status}`);
          const welcome = await c.welcome();
          const principal = welcome.principal as { user_id: string | null; scopes: string[] };
          if (who === 'user (own)') assert.equal(principal.user_id, seed.alice.id);
          else if (who === 'user (other)') assert.equal(principal.user_id, seed.bob.id);
          else assert.deepEqual(principal, { name: `authz ${who}`, user_id: null, scopes: [who] });
        } else {
          const want = who === 'ingest' || who === 'respond' ? 403 : 401;
          assert.deepEqual(c instanceof StreamClient ? 'upgraded' : c, { status: want }, `${who} on the upgrade`);
        }
      }
      // Without an upgrade, the route answers nothing useful to anyone.
      for (const who of CALLERS) for (const m of ['GET', 'HEAD']) assert.ok((await send(who, m, '/v1/stream')).status >= 400, `${m} /v1/stream as ${who}`);
    });

    it('admits by first message only what the header would (close 4401/4403/4408 otherwise)', async () => {
      for (const who of CALLERS) {
        if (who === 'malformed') continue;
        const c = await openStream(who, false);
        assert.ok(c instanceof StreamClient);
        if (streamWelcomes(who)) {
          await c.welcome();
          continue;
        }
        const closed = await c.closed;
        const want = who === 'none' ? 4408 : who === 'ingest' || who === 'respond' ? 4403 : 4401;
        assert.equal(closed.code, want, `${who}: ${JSON.stringify(c.messages)}`);
        assert.deepEqual(c.messages.map((m) => m.type), ['error'], `${who} is told why, and nothing else`);
        if (want === 4403) assert.match(String(c.messages[0].error), new RegExp(`"authz ${who}" lacks the "read" scope`));
      }
      const early = await openStream('none', false);
      assert.ok(early instanceof StreamClient);
      early.send({ type: 'subscribe', events: true });
      assert.equal((await early.closed).code, 4401);
    });

    it("streams a user's notifications to that user only", async () => {
      const open = async (who: Caller) => {
        const c = await openStream(who, true);
        assert.ok(c instanceof StreamClient);
        await c.welcome();
        return c;
      };
      const [alice, bob, reader, anonymous] = [await open('user (own)'), await open('user (other)'), await open('read'), await openStream('none', false)];
      await new InAppChannel(f.store, f.hub).send(notification({ title: 'live for alice' }), { channel: 'in_app', address: 'alice' });
      const got = await alice.next((m) => m.type === 'notification');
      assert.equal(got.data?.title, 'live for alice');
      await Promise.all([bob.sync(), reader.sync()]);
      for (const c of [bob, reader]) assert.deepEqual(c.payload(), [], `${c.label} got another user's notification`);
      assert.ok(anonymous instanceof StreamClient);
      await anonymous.closed;
      assert.ok(anonymous.messages.every((m) => m.type === 'error'), 'nothing reaches a socket that never signed in');
    });
  });
}
