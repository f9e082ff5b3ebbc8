/**
 * Authentication and scopes. A route requires a scope by declaring it in its config:
 *
 *   app.get('/v1/events', { config: { scope: 'read' }, schema }, handler)
 *
 * Routes without `config.scope` are public (health, metrics, docs). For the others the request
 * must carry `Authorization: Bearer <key>` of an active key holding the scope (`admin` holds every
 * scope): 401 when the key is missing or unknown, 403 when it lacks the scope; `request.principal`
 * then names the key. Verified keys are cached for KEY_CACHE_TTL_MS so the ingest path does not
 * query the database per request; a revocation through this server takes effect at once.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../../store/store.js';
import { findUserByToken, isUserToken, userPrincipal, type User } from '../../notifications/users.js';
import { findKey, hashKey, hasScope, SCOPES, type Principal, type Scope } from '../apiKeys.js';
import { ApiError, E } from '../errors.js';
import { globalPlugin } from './global.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route requires; absent for public routes. */
    scope?: Scope;
    /** User tokens may call this route (for their own user only); keys still need `scope`. */
    users?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** The signed-in user when the request carries a user token (`vgu_…`). */
    user: User | null;
  }
  interface FastifyInstance {
    /** Forgets cached keys (after a revocation). */
    forgetKeys(): void;
    /** Verifies an API key or a user token (the WebSocket stream authenticates by its first message). */
    authenticateToken(req: FastifyRequest, token: string): Promise<{ principal: Principal; user: User | null }>;
  }
}

/** How long a verified key is trusted without asking the database again. */
export const KEY_CACHE_TTL_MS = 5_000;
const KEY_CACHE_MAX_ENTRIES = 10_000;

export interface AuthOptions extends Record<string, unknown> {
  db: Queryable;
  /** The server's local CLI key (all scopes, loopback only), if any. */
  localKey?: string;
  cacheTtlMs?: number;
}

export const LOCAL_PRINCIPAL: Principal = { id: 'local-cli', name: 'local CLI', scopes: SCOPES, rateLimitPerMinute: 0 };

function isLoopback(ip: string): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1' || ip.startsWith('127.');
}

/** What a route needing a key says of its access in the OpenAPI document. */
export function accessNote(scope: string, users: boolean): string {
  return `Requires an API key with the \`${scope}\` scope${scope === 'admin' ? '' : ' (or `admin`)'}${users ? ', or a user token (vgu_…) for its own user' : ''}.`;
}

export const authPlugin = globalPlugin<AuthOptions>('vigil-auth', async (app, opts) => {
  const ttl = opts.cacheTtlMs ?? KEY_CACHE_TTL_MS;
  const cache = new Map<string, { principal: Principal; until: number }>();
  const localHash = opts.localKey ? Buffer.from(hashKey(opts.localKey), 'hex') : null;

  app.decorateRequest('principal', null);
  app.decorateRequest('user', null);
  app.decorate('forgetKeys', () => cache.clear());

  // Routes needing a key are marked in the OpenAPI document.
  app.addHook('onRoute', (route) => {
    const scope = route.config?.scope;
    if (!scope) return;
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    const note = accessNote(scope, route.config?.users === true);
    route.schema = { ...schema, security: [{ bearerAuth: [] }], description: schema.description ? `${schema.description as string}\n\n${note}` : note };
  });

  async function identify(req: FastifyRequest, key: string): Promise<Principal> {
    const hash = hashKey(key);
    if (localHash !== null && timingSafeEqual(Buffer.from(hash, 'hex'), localHash)) {
      if (!isLoopback(req.ip)) throw new ApiError(E.localKeyRemote);
      return LOCAL_PRINCIPAL;
    }
    const now = Date.now();
    const hit = cache.get(hash);
    if (hit && hit.until > now) return hit.principal;
    const principal = await findKey(opts.db, key);
    if (principal === null) {
      cache.delete(hash);
      throw new ApiError(E.unknownKey);
    }
    if (cache.size >= KEY_CACHE_MAX_ENTRIES) cache.clear();
    cache.set(hash, { principal, until: now + ttl });
    return principal;
  }

  async function authenticate(req: FastifyRequest, token: string): Promise<{ principal: Principal; user: User | null }> {
    if (!isUserToken(token)) return { principal: await identify(req, token), user: null };
    const user = await findUserByToken(opts.db, token);
    if (user === null) throw new ApiError(E.unknownKey, 'the user token is unknown or revoked');
    return { principal: userPrincipal(user), user };
  }
  app.decorate('authenticateToken', authenticate);

  app.addHook('onRequest', async (req) => {
    const scope = req.routeOptions.config?.scope;
    if (!scope) return;
    const header = req.headers.authorization;
    if (header === undefined || header === '') throw new ApiError(E.missingKey, `${E.missingKey.message} (this endpoint requires the "${scope}" scope)`);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m === null) throw new ApiError(E.malformedAuth);
    const { principal, user } = await authenticate(req, m[1]);
    if (user !== null) {
      if (req.routeOptions.config?.users !== true) throw new ApiError(E.userTokenRefused);
      req.principal = principal;
      req.user = user;
      return;
    }
    if (!hasScope(principal.scopes, scope)) {
      throw new ApiError(
        E.missingScope,
        `the API key "${principal.name}" lacks the "${scope}" scope this endpoint requires (it has: ${principal.scopes.join(', ')})`,
      );
    }
    req.principal = principal;
  });
});
