/**
 * The Vigil HTTP app, assembled in one place: global plugins (errors, auth, rate limit, metrics,
 * OpenAPI), then the route modules. Built without listening: tests use `app.inject()` or
 * `app.listen({port: 0})`, `vigil serve` listens on its configured address.
 *
 * To add a route module: write `src/http/routes/<name>.ts` exporting a FastifyPluginAsync whose
 * routes declare `config: { scope }` (or none for a public route) and request/response schemas,
 * then register it below with the dependencies it needs.
 */
import type { Duplex } from 'node:stream';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { GroupCommitter } from '../events/groupCommit.js';
import type { EventRow } from '../events/types.js';
import { PostgresStore } from '../store/postgres.js';
import type { Store } from '../store/store.js';
import { MAX_REQUEST_BYTES } from '../events/schema.js';
import { ApiError, clientErrorAnswer, E, RETRY_AFTER_SECONDS } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { accessNote, authPlugin } from './plugins/auth.js';
import { errorsPlugin } from './plugins/errors.js';
import { registerRateLimit } from './plugins/rateLimit.js';
import type { VapidKeys } from '../channels/push/index.js';
import { loadVapidKeys } from '../notifications/pushSubscriptions.js';
import { notificationRoutes } from './routes/notifications.js';
import { pushRoutes } from './routes/push.js';
import { streamRoutes } from './routes/stream.js';
import { userRoutes } from './routes/users.js';
import { StreamHub } from './stream/hub.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import { keyRoutes } from './routes/keys.js';
import { metricsRoutes } from './routes/metrics.js';
import { statsRoutes } from './routes/stats.js';
import { deliveryRoutes, type DeliveryRoutesOptions } from './routes/deliveries.js';
import { interventionRoutes } from './routes/interventions.js';
import { silenceRoutes } from './routes/silences.js';
import { taskRoutes } from './routes/tasks.js';
import type { InterventionService } from '../interventions/service.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { trustRoutes } from './routes/trust.js';
import type { TrustService } from '../trust/service.js';

export interface AppOptions {
  store: Store;
  log: Logger;
  /** Requests per minute per key unless the key says otherwise; 0: unlimited. */
  rateLimitPerMinute?: number;
  /** The server's local CLI key (loopback only, every scope), if any. */
  localKey?: string;
  /** How long a verified key is trusted before asking the database again, in ms. */
  keyCacheTtlMs?: number;
  /** Called with the rows of each commit (stream rules hang here). */
  onCommit?: (rows: readonly EventRow[]) => void;
  /** The live stream's hub (started by the caller; on PostgreSQL it relays between servers). Default: the app's own, in-process only. */
  hub?: StreamHub;
  /** VAPID keys from the config; default: made on first start and stored in the database. */
  vapid?: VapidKeys;
  /** The outbox's target masking and retry (src/outbox/assemble.ts) for the deliveries routes. */
  outbox?: Pick<DeliveryRoutesOptions, 'mask' | 'retry'>;
  /** Interventions, silences, thresholds and task errors routes are registered when given. */
  interventions?: InterventionService;
  /** The verify, checkpoint and retention routes are registered when given. */
  trust?: TrustService;
  /** The built dashboard served at `/` (default: the package's web/dist). */
  dashboardRoot?: string;
  metrics?: ServerMetrics;
}

export interface VigilApp extends FastifyInstance {
  /** Not part of Fastify: the committer and metrics, for the server and tests. */
  vigil: { committer: GroupCommitter; metrics: ServerMetrics };
}

const VERSION = '0.1.0';

/** `GET /v1/stream` in the OpenAPI document: an upgrade to WebSocket, protocol in docs/api.md#stream. */
const STREAM_OPERATION = {
  get: {
    summary: 'Live stream of interventions, notifications and events (WebSocket)',
    tags: ['stream'],
    description:
      'Upgrade to WebSocket. Sign in with `Authorization: Bearer <key or user token>` on the upgrade request, or with a first message `{"type":"auth","token":"…"}`; user tokens see their own messages. Messages and close codes: docs/api.md#stream.\n\n' +
      accessNote('read', true),
    security: [{ bearerAuth: [] }],
    responses: {
      101: { description: 'Switching to the WebSocket protocol.' },
      401: { description: 'The Authorization header sent on the upgrade is malformed or its key unknown.' },
      403: { description: 'The key lacks the read scope.' },
    },
  },
};

export async function buildApp(opts: AppOptions): Promise<VigilApp> {
  const metrics = opts.metrics ?? new ServerMetrics();
  const hub = opts.hub ?? new StreamHub({ log: opts.log });
  const committer = new GroupCommitter({
    store: opts.store,
    log: opts.log.child({ component: 'group-commit' }),
    onRows: (rows) => {
      opts.onCommit?.(rows);
      hub.publishEvents(rows);
    },
    onCommit: (rows, ms, ok) => {
      metrics.commitRows.observe(rows);
      metrics.commitSeconds.observe(ms / 1000, { outcome: ok ? 'ok' : 'failed' });
    },
  });
  metrics.registry.gauge('vigil_commit_pending_rows', 'Rows waiting for the next group commit.', () => committer.pendingRows);
  metrics.registry.gauge('vigil_stream_clients', 'WebSocket stream clients connected to this server.', () => hub.clientCount);

  const app = Fastify({
    loggerInstance: opts.log.child({ component: 'http' }),
    // Per-request log lines would dominate the ingest path; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_REQUEST_BYTES,
    // Unknown query parameters are refused, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    // While closing, requests are refused by the hook below, in the error catalogue's shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // The router's own refusals (a path segment over 100 characters, or not valid percent-encoding)
    // leave in the error catalogue's shape too, not as Fastify's bare 414/400 bodies.
    // Requests Node.js refuses before routing (headers over 16 KiB, not HTTP) are answered in
    // the catalogue's shape too.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorAnswer(err));
      socket.destroy(err);
    },
    frameworkErrors: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      if (!tooLong && err.code !== 'FST_ERR_BAD_URL') return reply.code(500).send(new ApiError(E.internal).body());
      const path = req.url.split('?')[0];
      const shown = path.length > 80 ? `${path.slice(0, 77)}...` : path;
      const api = new ApiError(E.invalidQuery, `a path parameter is invalid: ${shown} ${tooLong ? 'has a segment longer than 100 characters' : 'is not valid percent-encoding'}`);
      return reply.code(api.statusCode).send(api.body());
    },
  }) as unknown as FastifyInstance;
  const vigilApp = app as unknown as VigilApp;
  vigilApp.vigil = { committer, metrics };

  await app.register(errorsPlugin);
  // Fastify's JSON parser answers any failure with "not valid JSON", even for valid JSON holding a
  // "__proto__" key (refused against prototype poisoning). On that path only, say why.
  const parseJson = app.getDefaultJsonParser('error', 'error') as (req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => void;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parseJson(req, body as string, (err, value) => {
      if (err === null || (err as FastifyError).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return done(err, value);
      let why = 'it holds a "__proto__" or "constructor": {"prototype"} key, which is refused (prototype poisoning)';
      try {
        JSON.parse(body as string);
      } catch (syntax) {
        why = (syntax as Error).message;
      }
      done(new ApiError(E.invalidJson, `${E.invalidJson.message}: ${why}`));
    });
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // First of the request hooks: a closing server refuses before authenticating.
  app.addHook('onRequest', async (_req, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new ApiError(E.shuttingDown, undefined, {}, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vigil',
        version: VERSION,
        description: 'Audit trail and human-intervention alerting for AI-agent platforms. Errors: docs/api.md#errors.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: vgl_…' } } },
    },
    // The WebSocket plugin hides its routes from the document; the stream is described here.
    transformObject: (documentObject) => {
      const doc = (documentObject as { openapiObject: { paths?: Record<string, unknown> } }).openapiObject;
      doc.paths = { ...doc.paths, '/v1/stream': STREAM_OPERATION };
      return doc as never;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(authPlugin, { db: opts.store, localKey: opts.localKey, cacheTtlMs: opts.keyCacheTtlMs });
  await registerRateLimit(app, { perMinute: opts.rateLimitPerMinute, shared: opts.store instanceof PostgresStore ? { db: opts.store, log: opts.log.child({ component: 'rate-limit' }) } : undefined });
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpSeconds.observe(reply.elapsedTime / 1000, { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
  });
  app.addHook('onClose', async () => {
    // Requests still waiting for a commit are answered before the store is closed.
    await committer.close();
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(healthRoutes, { store: opts.store });
  await app.register(metricsRoutes, { metrics });
  await app.register(ingestRoutes, { committer, metrics });
  await app.register(eventRoutes, { db: opts.store });
  await app.register(statsRoutes, { db: opts.store });
  await app.register(keyRoutes, { db: opts.store });
  await app.register(userRoutes, { db: opts.store });
  await app.register(notificationRoutes, { db: opts.store });
  let vapid: Promise<VapidKeys> | null = null;
  const loadVapid = () => {
    vapid ??= loadVapidKeys(opts.store, opts.vapid).catch((err: unknown) => {
      vapid = null; // a database outage: try again on the next request
      throw err;
    });
    return vapid;
  };
  await app.register(pushRoutes, { db: opts.store, vapid: loadVapid, hub });
  await app.register(streamRoutes, { hub });
  if (!opts.hub) {
    await hub.start();
    app.addHook('onClose', () => hub.close());
  }
  await app.register(deliveryRoutes, { db: opts.store, ...opts.outbox });
  if (opts.interventions) {
    await app.register(interventionRoutes, { interventions: opts.interventions });
    await app.register(silenceRoutes, { interventions: opts.interventions });
    await app.register(taskRoutes, { interventions: opts.interventions });
  }
  if (opts.trust) await app.register(trustRoutes, { trust: opts.trust });
  await app.register(dashboardRoutes, { root: opts.dashboardRoot });
  await app.ready();
  return vigilApp;
}
