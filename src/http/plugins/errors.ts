/**
 * The global error and not-found handlers: every refusal leaves as the catalogue's JSON
 * (src/http/errors.ts), whatever raised it (a route, Fastify's body parser, schema validation,
 * the rate limiter). Unexpected errors answer 500 without their message; database outages 503.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, E, RETRY_AFTER_SECONDS } from '../errors.js';
import { globalPlugin } from './global.js';

/** Whether an error means the database could not be reached (as opposed to a bug or bad data). */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EPIPE|EAI_AGAIN)$/.test(code)) return true;
  // SQLSTATE classes 08 (connection exception), 57P (operator intervention), 53 (insufficient resources).
  if (/^(08...|57P0[1-4]|53...)$/.test(code)) return true;
  const msg = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED|Cannot use a pool after calling end/i.test(msg);
}

function toApiError(err: FastifyError): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err.validation) {
    const where = err.validationContext ?? 'request';
    const spec = where === 'querystring' || where === 'params' ? E.invalidQuery : E.invalidRequest;
    const problems = err.validation.map((v) => {
      const extra = (v.params as { additionalProperty?: unknown } | undefined)?.additionalProperty;
      return typeof extra === 'string'
        ? { field: `${where}/${extra}`, problem: 'unknown parameter' }
        : { field: `${where}${v.instancePath}`, problem: v.message ?? 'invalid' };
    });
    return new ApiError(spec, `${spec.message}: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`, { problems });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(E.invalidJson, `${E.invalidJson.message}: ${err.message}`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(E.invalidJson, 'the request body is empty; send one event or {"events": [...]}');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(E.bodyTooLarge, `${E.bodyTooLarge.message}: at most ${err.message.match(/\d+/)?.[0] ?? '5242880'} bytes (5 MiB)`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(E.unsupportedMediaType);
  }
  if (err instanceof SyntaxError && err.statusCode === 400) return new ApiError(E.invalidJson, `${E.invalidJson.message}: ${err.message}`);
  if (isDatabaseUnavailable(err)) return new ApiError(E.databaseUnavailable, undefined, {}, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError({ ...E.invalidRequest, http: err.statusCode }, err.message);
  }
  return null;
}

export const errorsPlugin = globalPlugin('vigil-errors', async (app) => {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const api = toApiError(err);
    if (api === null) {
      req.log.error({ err }, 'request failed');
      return reply.code(500).send(new ApiError(E.internal).body());
    }
    if (api.statusCode >= 500) req.log.warn({ code: api.spec.code, cause: err.message }, api.message);
    for (const [k, v] of Object.entries(api.headers)) reply.header(k, v);
    return reply.code(api.statusCode).send(api.body());
  });
  app.setNotFoundHandler((req, reply) => {
    const api = new ApiError(E.notFound, `no such endpoint: ${req.method} ${req.url.split('?')[0]}`);
    return reply.code(404).send(api.body());
  });
});
