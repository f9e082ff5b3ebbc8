/**
 * The HTTP helper every HTTP channel shares: one request through node's http/https (no fetch, so
 * the connection goes only to the addresses the URL guard checked), a whole-request timeout by
 * AbortSignal, a capped response body, no redirects followed; and the status classification:
 * 2xx ok; 408, 429 and 5xx retryable (with Retry-After); 3xx and other 4xx permanent; network
 * errors and timeouts retryable.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { SendOutcome, SendResult } from './channel.js';
import { maskUrl, type Redactor } from './mask.js';
import { DnsUnavailableError, pinnedLookup, UrlGuard, UrlRefusedError } from './urlGuard.js';

/** Default whole-request timeout of a channel call, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Response bodies are read up to this many bytes; provider answers are small. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Sent as User-Agent on every provider call. */
export const DEFAULT_USER_AGENT = 'Vigil/0.1 (notification channel)';
/** A Retry-After longer than this (1 hour) is capped: the outbox's own deadline decides after that. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

export interface HttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export type HttpFailureKind = 'refused' | 'timeout' | 'aborted' | 'network';

/** A request that got no HTTP answer. The message names no URL secret. */
export class HttpFailure extends Error {
  override readonly name = 'HttpFailure';
  constructor(
    readonly kind: HttpFailureKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface HttpClientOptions {
  guard?: UrlGuard;
  /** Reuse connections (default true); `close()` ends them. */
  keepAlive?: boolean;
  userAgent?: string;
  maxResponseBytes?: number;
}

export class HttpClient {
  readonly guard: UrlGuard;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly userAgent: string;
  private readonly maxBytes: number;
  /** Every socket opened, until its handle is closed (so close() leaves no open handle behind). */
  private readonly tracked = new WeakSet<Socket>();
  private readonly sockets = new Set<Promise<void>>();

  constructor(options: HttpClientOptions = {}) {
    this.guard = options.guard ?? new UrlGuard();
    const keepAlive = options.keepAlive ?? true;
    this.agents = { http: new http.Agent({ keepAlive }), https: new https.Agent({ keepAlive }) };
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  }

  /** Sends one request; resolves with any HTTP answer, rejects with HttpFailure otherwise. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    let target;
    try {
      target = await this.guard.check(req.url);
    } catch (err) {
      if (err instanceof UrlRefusedError) throw new HttpFailure('refused', err.message, 'url_refused');
      if (err instanceof DnsUnavailableError) throw new HttpFailure('network', err.message, err.code);
      throw err;
    }
    const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const isHttps = target.url.protocol === 'https:';
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
    if (body) headers['content-length'] = String(body.length);

    return new Promise<HttpResponse>((resolve, reject) => {
      const r = (isHttps ? https : http).request(target.url, {
        method: req.method ?? 'POST',
        headers,
        agent: isHttps ? this.agents.https : this.agents.http,
        lookup: pinnedLookup(target.addresses),
      });
      // The timeout and the caller's signal end the request by destroying it rather than through an
      // AbortSignal handed to node: an AbortController and node's listeners on it were an eighth of
      // the client's CPU time per request (profile of 10,000 sends to local peers). Both are
      // released when the call settles, so no timer outlives a request.
      let ended: 'timeout' | 'aborted' | null = null;
      const end = (why: 'timeout' | 'aborted'): void => {
        ended ??= why;
        r.destroy(new Error(why));
      };
      const timer = setTimeout(end, timeoutMs, 'timeout');
      const onAbort = (): void => end('aborted');
      req.signal?.addEventListener('abort', onAbort, { once: true });
      const release = (): void => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: unknown): void => {
        release();
        if (ended === 'timeout') reject(new HttpFailure('timeout', `no answer within ${timeoutMs} ms`, 'timeout'));
        else if (ended === 'aborted') reject(new HttpFailure('aborted', 'the request was aborted', 'aborted'));
        else {
          const code = (err as NodeJS.ErrnoException).code ?? 'network_error';
          reject(new HttpFailure('network', `network error ${code} calling ${maskUrl(target.url.href)}`, code));
        }
      };
      r.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < this.maxBytes) chunks.push(c.subarray(0, this.maxBytes - size));
          size += c.length;
        });
        res.on('end', () => {
          release();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', fail);
      });
      r.on('error', fail);
      r.on('socket', (socket: Socket) => {
        if (this.tracked.has(socket)) return;
        this.tracked.add(socket);
        const closed = new Promise<void>((done) => socket.once('close', () => done()));
        this.sockets.add(closed);
        void closed.then(() => {
          this.sockets.delete(closed);
          this.tracked.delete(socket);
        });
      });
      if (req.signal?.aborted) end('aborted');
      else r.end(body);
    });
  }

  /** Ends kept-alive connections; resolves when every socket this client opened is closed. */
  async close(): Promise<void> {
    this.agents.http.destroy();
    this.agents.https.destroy();
    await Promise.all(this.sockets);
  }
}

/** `Retry-After` as seconds (`120`, also `1.5`) or an HTTP-date, in ms from `nowMs`; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) ms = Math.ceil(Number(v) * 1000);
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/** The outcome an HTTP status means on its own, with the wait a Retry-After header asks for. */
export function classifyStatus(status: number, headers: IncomingHttpHeaders = {}, nowMs: number = Date.now()): { outcome: SendOutcome; retryAfterMs?: number } {
  if (status >= 200 && status < 300) return { outcome: 'ok' };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(headers['retry-after'], nowMs);
    return retryAfterMs === undefined ? { outcome: 'retryable' } : { outcome: 'retryable', retryAfterMs };
  }
  return { outcome: 'permanent' };
}

/** The SendResult for a request that got no answer: refused URLs are permanent, the rest retryable. */
export function failureResult(err: unknown, redactor: Redactor, startedMs: number): SendResult {
  const durationMs = Date.now() - startedMs;
  if (err instanceof HttpFailure) {
    return {
      outcome: err.kind === 'refused' ? 'permanent' : 'retryable',
      status: err.code ?? null,
      error: redactor.redact(err.message),
      durationMs,
    };
  }
  const e = err as Error;
  return { outcome: 'retryable', status: null, error: redactor.redact(`${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`), durationMs };
}

/** A short masked description of a non-2xx answer: `HTTP 404 (body excerpt)`, redirects named as such. */
export function describeAnswer(res: HttpResponse, redactor: Redactor, detail?: string): string {
  if (res.status >= 300 && res.status < 400) {
    const loc = res.headers.location;
    return `HTTP ${res.status}: redirect${loc ? ` to ${maskUrl(String(loc))}` : ''} not followed`;
  }
  // Redacted whole, then cut: a cut first could keep the start of a secret the redactor no longer recognises.
  // NUL (a binary answer) as U+FFFD: the text goes into PostgreSQL (attempts, interventions' context).
  const text = redactor.redact(detail ?? res.body.replace(/\s+/g, ' ').trim()).replaceAll('\0', '\uFFFD');
  const cut = truncate(text, 201); // 200 characters and '…', never half a surrogate pair
  return `HTTP ${res.status}${cut ? `: ${cut}` : ''}`;
}

/** A channel option is missing or invalid; the message names the option (never its secret value). */
export class ChannelConfigError extends Error {
  override readonly name = 'ChannelConfigError';
  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(`${option}: ${problem}`);
  }
}

/** Checks an optional whole number option within bounds, returning it or the default. */
export function intOption(option: string, value: unknown, def: number, min: number, max: number): number {
  if (value === undefined || value === null || value === '') return def;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ChannelConfigError(option, `must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Truncates to at most `max` characters (code points kept whole), ending with `…` when cut. */
export function truncate(text: string, max: number, ellipsis = '…'): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - ellipsis.length));
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut + ellipsis;
}

/** What channel constructors take besides their config: injected, so tests and the app share them. */
export interface ChannelDeps {
  /** The HTTP client (with its URL guard); a channel closes it only if it created it. */
  http?: HttpClient;
  /** The guard for channels that connect by other means (SMTP); defaults to the client's. */
  guard?: UrlGuard;
  /** A pino-style logger; channels log masked values only. */
  logger?: ChannelLogger;
  /** Milliseconds since the epoch (webhook timestamps, Retry-After dates). */
  now?: () => number;
}

/** The part of a pino logger channels use. */
export interface ChannelLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLogger: ChannelLogger = { debug: () => {}, warn: () => {} };

/**
 * Logs a send's outcome at debug level, with masked values only (the target's masked form and the
 * redacted error). Warnings are the outbox's: it knows whether an error is new, or the last attempt.
 */
export function logResult(logger: ChannelLogger, channel: string, maskedTarget: string, result: SendResult): void {
  const entry = { channel, target: maskedTarget, outcome: result.outcome, status: result.status, durationMs: result.durationMs, error: result.error };
  logger.debug(entry, result.outcome === 'ok' ? 'notification sent' : 'notification not sent');
}

/** The result for a target address that cannot be used at all (not a URL, not a number). */
export function invalidTarget(started: number, what = 'a valid URL'): SendResult {
  return { outcome: 'permanent', status: 'invalid_target', error: `the target address is not ${what}`, durationMs: Date.now() - started };
}

/** The absolute link to where a person acts, when a dashboard base URL is configured. */
export function actionLink(publicUrl: string | undefined, actionUrl: string | null): string | undefined {
  if (!publicUrl || !actionUrl) return undefined;
  try {
    return new URL(actionUrl, publicUrl).href;
  } catch {
    return undefined;
  }
}
