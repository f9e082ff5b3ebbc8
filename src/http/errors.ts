/**
 * The error catalogue of the HTTP API (after ntfy's errors.go): every refusal has a stable
 * numeric code (HTTP status × 100 + n), an HTTP status, a message and a link to its documentation.
 * Codes are never reused or renumbered; clients may branch on them.
 *
 * The JSON answered: `{"code": 40101, "http": 401, "error": "...", "link": "...", ...details}`.
 */

import { STATUS_CODES } from 'node:http';

export const ERRORS_DOC = 'docs/api.md#errors';

export interface ErrorSpec {
  code: number;
  http: number;
  message: string;
}

const e = (code: number, message: string): ErrorSpec => ({ code, http: Math.floor(code / 100), message });

export const E = {
  invalidJson: e(40001, 'the request body is not valid JSON'),
  invalidBody: e(40002, 'the request body must be one event object or {"events": [...]} with at least one event'),
  eventRefused: e(40003, 'the event was refused'),
  invalidQuery: e(40004, 'a query parameter is invalid'),
  invalidCursor: e(40005, 'the cursor is not one this server issued'),
  invalidRequest: e(40006, 'the request is invalid'),
  malformedHttp: e(40007, 'the request is not valid HTTP/1.1'),
  invalidIntervention: e(40010, 'the intervention, check, silence or thresholds request is invalid'),
  invalidSubscription: e(40020, 'the body is not a Web Push subscription {endpoint, keys: {p256dh, auth}}'),
  invalidDeliveryQuery: e(40030, 'a deliveries query parameter is invalid'),
  missingKey: e(40101, 'an API key is required: send "Authorization: Bearer <key>"'),
  unknownKey: e(40102, 'the API key is unknown or revoked'),
  malformedAuth: e(40103, 'the Authorization header must be "Bearer <key>"'),
  missingScope: e(40301, 'the API key lacks the scope this endpoint requires'),
  localKeyRemote: e(40302, 'the local CLI key is accepted only from this machine'),
  userTokenRefused: e(40320, 'a user token may only use its own inbox, stream and push subscriptions'),
  notFound: e(40401, 'no such endpoint'),
  eventNotFound: e(40402, 'no event has this id'),
  keyNotFound: e(40403, 'no such API key'),
  interventionNotFound: e(40410, 'no intervention has this id'),
  silenceNotFound: e(40411, 'no silence has this id'),
  userNotFound: e(40420, 'no such user'),
  notificationNotFound: e(40421, 'no such notification in this inbox'),
  deliveryNotFound: e(40430, 'no delivery has this id'),
  interventionResolved: e(40910, 'the intervention is already resolved'),
  userExists: e(40920, 'a user with this name exists'),
  deliverySent: e(40930, 'the delivery was already sent (or is being sent): there is nothing to retry'),
  requestTimeout: e(40801, 'the request was not received in time'),
  tooManyEvents: e(41301, 'too many events in one request'),
  bodyTooLarge: e(41302, 'the request body is too large'),
  unsupportedMediaType: e(41501, 'the body must be JSON (Content-Type: application/json)'),
  headersTooLarge: e(43101, 'the request line and headers are over 16 KiB: send fewer or shorter query parameters or headers'),
  rateLimited: e(42901, 'too many requests for this API key'),
  internal: e(50001, 'internal server error'),
  databaseUnavailable: e(50301, 'the database is unavailable; nothing of this request was stored, retry later'),
  shuttingDown: e(50302, 'the server is shutting down; nothing of this request was stored, retry later'),
} as const satisfies Record<string, ErrorSpec>;

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 2;

/** An API error: thrown anywhere in a route or hook, rendered by the error handler. */
export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly spec: ErrorSpec,
    /** A sentence more specific than the catalogue's message, safe to show. */
    detail?: string,
    /** Extra fields of the JSON answer (`results`, `problems`, ...). */
    readonly extra: Record<string, unknown> = {},
    /** Headers to send with it (`Retry-After`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? spec.message);
    this.name = 'ApiError';
    this.statusCode = spec.http;
  }

  body(): Record<string, unknown> {
    return { code: this.spec.code, http: this.spec.http, error: this.message, link: `${ERRORS_DOC}-${this.spec.code}`, ...this.extra };
  }
}

/**
 * The answer to a request Node.js refused before Fastify saw it (headers over 16 KiB, not HTTP,
 * too slow), written on the socket in the catalogue's shape; the connection is then closed.
 */
export function clientErrorAnswer(err: { code?: string }): string {
  const spec = err.code === 'HPE_HEADER_OVERFLOW' ? E.headersTooLarge : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? E.requestTimeout : E.malformedHttp;
  const body = JSON.stringify(new ApiError(spec).body());
  return `HTTP/1.1 ${spec.http} ${STATUS_CODES[spec.http]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`;
}

/** The JSON Schema of an error answer, for route response schemas. */
export const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    code: { type: 'integer', description: 'Stable error code (see docs/api.md#errors).' },
    http: { type: 'integer' },
    error: { type: 'string' },
    link: { type: 'string' },
  },
  required: ['code', 'http', 'error'],
  additionalProperties: true,
} as const;
