/**
 * Per-key rate limit (@fastify/rate-limit), counted after authentication so the key, not the IP,
 * is what is limited. A key's own `rate_limit_per_minute` overrides the server's default; 0 means
 * unlimited. Public routes and the local CLI key are not limited. Over the limit: 429 with
 * `Retry-After`, in the error catalogue's shape.
 *
 * On PostgreSQL the counts are shared by every server (SharedRateCounts); on the embedded store,
 * one process, they are kept in memory.
 */
import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Queryable } from '../../store/store.js';
import { ApiError, E } from '../errors.js';
import { SharedRateCounts } from './sharedRateCounts.js';

/** Requests per minute per key unless configured; 0 disables the limit. */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 60_000;
const WINDOW_MS = 60_000;
/** Stands for "unlimited": the plugin needs a number. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

export async function registerRateLimit(app: FastifyInstance, opts: { perMinute?: number; shared?: { db: Queryable; log: Logger } }): Promise<void> {
  const perMinute = opts.perMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
  const counts = opts.shared ? new SharedRateCounts(opts.shared.db, opts.shared.log) : null;
  if (counts) app.addHook('onClose', () => counts.close());
  await app.register(rateLimit, {
    // The plugin makes its store with `new`: this one answers the shared counts.
    ...(counts ? { store: function SharedStore() { return counts; } as unknown as FastifyRateLimitStoreCtor } : {}),
    global: true,
    hook: 'preHandler',
    timeWindow: WINDOW_MS,
    keyGenerator: (req) => req.principal?.id ?? req.ip,
    allowList: (req) => req.principal === null || req.principal.rateLimitPerMinute === 0 || (req.principal.rateLimitPerMinute === null && perMinute === 0),
    max: async (req) => {
      const own = req.principal?.rateLimitPerMinute;
      const max = own ?? perMinute;
      return max === 0 ? UNLIMITED : max;
    },
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (req, ctx) =>
      new ApiError(E.rateLimited, `${E.rateLimited.message} ("${req.principal?.name ?? req.ip}": at most ${ctx.max} per minute); retry in ${ctx.after}`),
  });
}
