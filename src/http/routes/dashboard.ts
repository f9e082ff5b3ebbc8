/**
 * The dashboard at `/`: the static files Vite builds from `web/` into `web/dist/` (shipped in the
 * package). Public routes: the page holds no data; it asks the API with the key the person signs
 * in with. When the build is missing the server still starts, and `/` says how to build it.
 *
 * `/interventions/<id>` and `/tasks/<id>/review` — the links notifications carry — redirect to the
 * dashboard's pages for them.
 *
 * Files are registered one route each at startup (`wildcard: false`), so no catch-all route
 * shadows the API's own 404s. Hashed assets are cached for a year; `index.html` and the service
 * worker are revalidated on every load. Pages carry a Content-Security-Policy allowing only this
 * origin's scripts and connections.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

export interface DashboardOptions extends Record<string, unknown> {
  /** The built dashboard; by default `web/dist` of the package. */
  root?: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** `web/dist` of the package, from src/http/routes (tsx) or dist/src/http/routes (compiled). */
export function defaultDashboardRoot(): string {
  const candidates = [resolve(HERE, '../../../web/dist'), resolve(HERE, '../../../../web/dist')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0];
}

const CSP = "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>Vigil is running</h1>
<p>The dashboard is not built, so there is nothing to show here. Build it with <code>npm run build</code>
(or <code>npx vite build web</code>) and restart <code>vigil serve</code>.</p>
<p>The API works without it: see <a href="/docs">/docs</a>.</p>
</body></html>
`;

/** Path segments of the links notifications carry (`action_url`), as the dashboard's pages take them. */
const ID = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['id'] } as const;

export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  const root = opts.root ?? defaultDashboardRoot();
  // Notifications link to `/interventions/<id>` (and push to `/tasks/<id>/review`): those open the page.
  app.get<{ Params: { id: string } }>('/interventions/:id', { schema: { hide: true, params: ID } }, async (req, reply) =>
    reply.redirect(`/#/interventions?id=${encodeURIComponent(req.params.id)}`),
  );
  app.get<{ Params: { id: string } }>('/tasks/:id/review', { schema: { hide: true, params: ID } }, async (req, reply) =>
    reply.redirect(`/#/events?task_id=${encodeURIComponent(req.params.id)}`),
  );
  if (!existsSync(join(root, 'index.html'))) {
    app.log.warn({ root }, 'the dashboard is not built; / explains how to build it');
    app.get('/', { schema: { hide: true } }, async (_req, reply) => {
      reply.header('content-security-policy', CSP).type('text/html; charset=utf-8');
      return NOT_BUILT;
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
    schemaHide: true,
    cacheControl: false,
    setHeaders: (reply, path) => {
      if (path.includes(`${join(root, 'assets')}`)) reply.header('cache-control', 'public, max-age=31536000, immutable');
      else reply.header('cache-control', 'no-cache');
      if (path.endsWith('.html')) reply.header('content-security-policy', CSP);
      if (path.endsWith('sw.js')) reply.header('service-worker-allowed', '/');
    },
  });
};
