/**
 * The trail's integrity over HTTP (`admin` scope): verify, signed checkpoints and retention — what
 * `vigil verify`, `vigil checkpoint` and `vigil retention` use when a server holds the embedded
 * database. The work is in src/trust/.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Checkpoint } from '../../trust/checkpoints.js';
import { parseAge } from '../../trust/retention.js';
import type { TrustService } from '../../trust/service.js';
import { ApiError, E, ERROR_SCHEMA } from '../errors.js';

export interface TrustRoutesOptions extends Record<string, unknown> {
  trust: TrustService;
}

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));
const ANY_OBJECT = { type: 'object', additionalProperties: true } as const;
const CHECKPOINT = {
  type: 'object',
  required: ['kind', 'chain_pos', 'hash', 'created_at', 'key_id', 'public_key', 'signature'],
  properties: {
    kind: { type: 'string', enum: ['checkpoint', 'anchor'] },
    from_pos: { type: ['integer', 'null'] },
    chain_pos: { type: 'integer', minimum: 0 },
    seq: { type: ['integer', 'null'] },
    hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    created_at: { type: 'string' },
    key_id: { type: 'string' },
    public_key: { type: 'string' },
    signature: { type: 'string' },
  },
} as const;

export const trustRoutes: FastifyPluginAsync<TrustRoutesOptions> = async (app, { trust }) => {
  app.post<{ Body: { since?: string; checkpoints?: Checkpoint[]; trusted_keys?: string[] } }>(
    '/v1/trust/verify',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Recompute the hash chain and check it against the signed checkpoints',
        description: 'Answers `ok` with counts, or the problems found (changed, removed or inserted rows; checkpoints that disagree). Reads the whole trail: minutes at tens of millions of rows.',
        tags: ['trust'],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: { type: 'string', format: 'date-time', description: 'Start at the last checkpoint taken at or before this time.' },
            checkpoints: { type: 'array', items: CHECKPOINT, description: 'Checkpoints kept outside the database.' },
            trusted_keys: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Key ids or public keys to trust.' },
          },
        },
        response: { 200: ANY_OBJECT, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => {
      const b = req.body ?? {};
      return trust.verify({
        since: b.since === undefined ? undefined : new Date(b.since),
        fileCheckpoints: b.checkpoints?.map((c) => ({ ...c, from_pos: c.from_pos ?? null, seq: c.seq ?? null })),
        trustedKeys: b.trusted_keys,
      });
    },
  );

  app.get(
    '/v1/trust/checkpoints',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'List the signed checkpoints and retention anchors',
        tags: ['trust'],
        response: { 200: { type: 'object', properties: { checkpoints: { type: 'array', items: CHECKPOINT } } }, ...errors(401, 403, 429, 503) },
      },
    },
    async () => ({ checkpoints: await trust.list() }),
  );

  app.post<{ Body: { force?: boolean } }>(
    '/v1/trust/checkpoints',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Sign the chain head now',
        description: 'Answers `checkpoint: null` when the head has not moved since the last checkpoint, unless `force`.',
        tags: ['trust'],
        body: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean' } } },
        response: { 201: { type: 'object', properties: { checkpoint: { anyOf: [CHECKPOINT, { type: 'null' }] } } }, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req, reply) => reply.code(201).send({ checkpoint: await trust.checkpoint(req.body?.force === true) }),
  );

  app.post<{ Body: { older_than: string; dry_run?: boolean } }>(
    '/v1/trust/retention',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Remove events older than an age (the only path that removes events)',
        description: 'PostgreSQL drops whole monthly partitions; the embedded database deletes rows. Recorded as the audit event `retention.applied`.',
        tags: ['trust'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['older_than'],
          properties: { older_than: { type: 'string', description: '`365d`, `52w`, `1y` or `36h`; at least one day.' }, dry_run: { type: 'boolean' } },
        },
        response: { 200: ANY_OBJECT, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => {
      try {
        parseAge(req.body.older_than);
      } catch (err) {
        throw new ApiError(E.invalidRequest, `older_than: ${(err as Error).message}`);
      }
      return trust.retention(req.body.older_than, req.body.dry_run === true);
    },
  );
};
