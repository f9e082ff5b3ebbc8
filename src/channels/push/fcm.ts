/**
 * Firebase Cloud Messaging, HTTP v1 API. A service account signs an RS256 JWT assertion, the
 * OAuth token endpoint exchanges it for an access token (about one hour), and the token is cached
 * and refreshed before it expires; a 401 refreshes it once within the same send.
 * https://firebase.google.com/docs/cloud-messaging/send/v1-api
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../../util/clock.js';
import { classifyStatus, HttpFailure, type ChannelLogger, type HttpClient, type HttpResponse } from '../http.js';
import { signJwt } from './jwt.js';
import { maskToken, maskUrl, redact } from './mask.js';
import { isUrgent, webPushUrgency, type PushMessage } from './payload.js';
import { failureResult, parseJsonBody, type ProviderResult } from './results.js';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
export const FCM_DEFAULT_BASE_URL = 'https://fcm.googleapis.com';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Google accepts assertions valid at most one hour. */
export const ASSERTION_LIFETIME_S = 3600;
/** A cached access token is replaced this long before it expires, so no send races its expiry. */
export const ACCESS_TOKEN_REFRESH_MARGIN_MS = 5 * 60 * 1000;
/** Used when the token endpoint gives no `expires_in`. */
export const ACCESS_TOKEN_DEFAULT_LIFETIME_S = 3600;

/** The fields of a Google service-account key file that FCM needs. */
export interface ServiceAccount {
  project_id: string;
  client_email: string;
  /** PEM PKCS#8 RSA key. Secret. */
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

export interface FcmOptions {
  serviceAccount: ServiceAccount;
  /** `https://fcm.googleapis.com` by default. */
  baseUrl: string;
  /** The OAuth token endpoint: the service account's `token_uri` unless overridden. */
  tokenUri: string;
}

/** A failure to get an access token, already read as a send result. */
class TokenFailure extends Error {
  constructor(readonly result: ProviderResult) {
    super(result.error);
  }
}

export class FcmProvider {
  private readonly key: KeyObject;
  private token: { value: string; expiresAt: number } | null = null;
  private inflight: Promise<string> | null = null;
  /** Access tokens fetched so far (tests and metrics). */
  tokenRequests = 0;

  constructor(
    private readonly opts: FcmOptions,
    private readonly http: HttpClient,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly logger?: ChannelLogger,
  ) {
    this.key = createPrivateKey(opts.serviceAccount.private_key);
  }

  mask(address: string): string {
    return `fcm:${maskToken(address)}`;
  }

  async send(msg: PushMessage, address: string, signal?: AbortSignal): Promise<ProviderResult> {
    const secrets = [address, this.opts.serviceAccount.private_key, this.token?.value];
    try {
      let token = await this.accessToken();
      let answer = await this.post(msg, address, token, signal);
      if (answer.status === 401) {
        // The token may have been revoked or expired early: one fresh token, one more try.
        this.logger?.debug({ provider: 'fcm' }, 'FCM answered 401; refreshing the access token once');
        this.invalidate(token);
        token = await this.accessToken();
        answer = await this.post(msg, address, token, signal);
      }
      secrets.push(token);
      const { outcome, retryAfterMs } = classifyStatus(answer.status, answer.headers, this.clock.now());
      const body = parseJsonBody(answer.body);
      if (outcome === 'ok') {
        return typeof body.name === 'string' ? { outcome, status: answer.status, providerId: body.name } : { outcome, status: answer.status };
      }
      const { status, errorCode, message } = fcmError(body);
      const code = errorCode ?? status;
      const result: ProviderResult = {
        outcome,
        status: answer.status,
        error: `FCM answered ${answer.status}${code ? ` ${code}` : ''}${message ? `: ${redact(message, secrets)}` : ''}`,
      };
      if (errorCode === 'UNREGISTERED') result.targetGone = true;
      if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
      return result;
    } catch (e) {
      if (e instanceof TokenFailure) return e.result;
      if (e instanceof HttpFailure) return failureResult(e, 'FCM: ');
      throw e;
    }
  }

  private post(msg: PushMessage, address: string, token: string, signal?: AbortSignal): Promise<HttpResponse> {
    const path = `/v1/projects/${encodeURIComponent(this.opts.serviceAccount.project_id)}/messages:send`;
    return this.http.request({
      url: new URL(path, this.opts.baseUrl).href,
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ message: fcmMessage(msg, address) }),
      timeoutMs: this.timeoutMs,
      signal,
    });
  }

  private invalidate(value: string): void {
    if (this.token?.value === value) this.token = null;
  }

  /** The cached access token, or a new one; concurrent sends share one token request. */
  private accessToken(): Promise<string> {
    if (this.token && this.clock.now() < this.token.expiresAt - ACCESS_TOKEN_REFRESH_MARGIN_MS) {
      return Promise.resolve(this.token.value);
    }
    // Not tied to one caller's signal: other sends may be waiting on the same request.
    this.inflight ??= this.fetchToken().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async fetchToken(): Promise<string> {
    const sa = this.opts.serviceAccount;
    const now = Math.floor(this.clock.now() / 1000);
    const header: Record<string, unknown> = { typ: 'JWT' };
    if (sa.private_key_id) header.kid = sa.private_key_id;
    const assertion = signJwt(
      'RS256',
      header,
      { iss: sa.client_email, scope: FCM_SCOPE, aud: this.opts.tokenUri, iat: now, exp: now + ASSERTION_LIFETIME_S },
      this.key,
    );
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString();
    this.tokenRequests++;
    let answer: HttpResponse;
    try {
      answer = await this.http.request({
        url: this.opts.tokenUri,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
        timeoutMs: this.timeoutMs,
      });
    } catch (e) {
      if (e instanceof HttpFailure) throw new TokenFailure(failureResult(e, 'token endpoint: '));
      throw e;
    }
    const body = parseJsonBody(answer.body);
    if (answer.status === 200 && typeof body.access_token === 'string' && body.access_token !== '') {
      const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : ACCESS_TOKEN_DEFAULT_LIFETIME_S;
      this.token = { value: body.access_token, expiresAt: this.clock.now() + lifetime * 1000 };
      this.logger?.debug({ provider: 'fcm', expiresInS: lifetime }, 'FCM access token obtained');
      return body.access_token;
    }
    const classified = classifyStatus(answer.status, answer.headers, this.clock.now());
    // A 200 without a token is the endpoint misbehaving, not our credentials: try again later.
    const outcome = answer.status === 200 ? 'retryable' : classified.outcome;
    const code = typeof body.error === 'string' ? body.error : '';
    const result: ProviderResult = {
      outcome,
      status: answer.status,
      error: `token endpoint ${maskUrl(this.opts.tokenUri)} answered ${answer.status}${code ? ` ${redact(code, [sa.private_key])}` : ''}`,
    };
    if (classified.retryAfterMs !== undefined) result.retryAfterMs = classified.retryAfterMs;
    this.logger?.warn({ provider: 'fcm', status: answer.status, outcome }, 'FCM access token refused');
    throw new TokenFailure(result);
  }
}

/** The v1 `message`: notification for display, the same fields as strings in `data` for the app. */
export function fcmMessage(msg: PushMessage, token: string): Record<string, unknown> {
  const p = msg.payload;
  const data: Record<string, string> = { level: p.data.level, timestamp: p.data.timestamp, action: p.action, badge: String(p.badge) };
  if (p.data.task_id !== null) data.task_id = p.data.task_id;
  const urgent = isUrgent(msg.level);
  return {
    token,
    notification: { title: p.title, body: p.body },
    data,
    android: { priority: urgent ? 'HIGH' : 'NORMAL', ttl: `${msg.ttlSeconds}s`, collapse_key: msg.collapseId },
    apns: { headers: { 'apns-priority': urgent ? '10' : '5' }, payload: { aps: { badge: p.badge } } },
    webpush: { headers: { Urgency: webPushUrgency(msg.level), TTL: String(msg.ttlSeconds) } },
  };
}

/** `{error: {code, message, status, details: [{'@type': '…FcmError', errorCode}]}}` */
function fcmError(body: Record<string, unknown>): { status?: string; errorCode?: string; message?: string } {
  const err = body.error;
  if (!err || typeof err !== 'object') return {};
  const e = err as { status?: unknown; message?: unknown; details?: unknown };
  let errorCode: string | undefined;
  if (Array.isArray(e.details)) {
    for (const d of e.details as { errorCode?: unknown }[]) {
      if (d && typeof d.errorCode === 'string') errorCode = d.errorCode;
    }
  }
  return {
    status: typeof e.status === 'string' ? e.status : undefined,
    errorCode,
    message: typeof e.message === 'string' ? e.message : undefined,
  };
}
