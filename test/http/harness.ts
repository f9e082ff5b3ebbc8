/**
 * A Vigil app on a real port (127.0.0.1, port 0) over a fresh store of a backend, with an admin
 * key; and small HTTP helpers speaking to it with fetch (no mocks).
 */
import { request } from 'node:http';
import pino from 'pino';
import { buildApp, type AppOptions, type VigilApp } from '../../src/http/app.js';
import { createKey, type Scope } from '../../src/http/apiKeys.js';
import type { Store } from '../../src/store/store.js';
import { openHandles, openTestStore, type Backend } from '../helpers/stores.js';

export interface Harness {
  app: VigilApp;
  store: Store;
  url: string;
  adminKey: string;
  /** Makes a key with these scopes. */
  key(scopes: Scope[], rateLimitPerMinute?: number | null): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(backend: Backend, opts: Partial<AppOptions> = {}): Promise<Harness> {
  const env = await backend.setup();
  const store = await openTestStore(env);
  const app = await buildApp({ store, log: pino({ level: 'silent' }), ...opts });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const adminKey = (await createKey(store, { name: 'test admin', scopes: ['admin'] })).key;
  return {
    app,
    store,
    url,
    adminKey,
    key: async (scopes, rate) => (await createKey(store, { name: `test ${scopes.join('+')}`, scopes, rateLimitPerMinute: rate ?? null })).key,
    close: async () => {
      await app.close();
      await store.close();
      await env.cleanup();
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

/**
 * One HTTP request over the network (node:http, no keep-alive, so no socket outlives the test);
 * JSON bodies are sent and parsed.
 */
export function http(
  url: string,
  opts: { method?: string; key?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode ?? 0, headers: h, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A valid event of each kind the tests use. */
export const ev = {
  created: (task: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ event_type: 'task_created', task_id: task, task_type: 'content_generation', created_by: 'user_1', ...extra }),
  model: (model: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ event_type: 'model_called', model_name: model, provider: 'openai', tokens_used: 10, cost_usd: 0.01, ...extra }),
};

export async function countLogs(store: Store): Promise<number> {
  const { rows } = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM logs');
  return rows[0].n;
}

/**
 * The open sockets and servers once those being closed are gone: a closed socket's handle is
 * released on a later turn of the event loop, so this waits (at most a second) for them to go.
 */
export async function remainingHandles(): Promise<string[]> {
  for (let i = 0; i < 100 && openHandles().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  return openHandles();
}
