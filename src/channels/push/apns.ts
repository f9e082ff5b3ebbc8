/**
 * Apple Push Notification service over HTTP/2, token-based authentication: one ES256 provider
 * token (header `kid`, claims `iss`, `iat`) reused for 50 minutes, one HTTP/2 session kept open
 * and reused for every send; close() ends it.
 * https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 * https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import http2 from 'node:http2';
import type { Clock } from '../../util/clock.js';
import { classifyStatus, HttpFailure, type ChannelLogger } from '../http.js';
import { DnsUnavailableError, pinnedLookup, UrlRefusedError, type UrlGuard } from '../urlGuard.js';
import { signJwt } from './jwt.js';
import { maskToken, redact } from './mask.js';
import { isUrgent, type PushMessage } from './payload.js';
import { failureResult, parseJsonBody, type ProviderResult } from './results.js';

export const APNS_PRODUCTION_URL = 'https://api.push.apple.com';
export const APNS_SANDBOX_URL = 'https://api.sandbox.push.apple.com';
/**
 * Apple: refresh the provider token no more than once every 20 minutes and no less than once
 * every 60 (otherwise 429 TooManyProviderTokenUpdates or 403 ExpiredProviderToken). We refresh at 50.
 */
export const APNS_TOKEN_REFRESH_MS = 50 * 60 * 1000;
/** Device tokens are hex; their length is not fixed (Apple says not to assume 64). */
const DEVICE_TOKEN_RE = /^[0-9a-fA-F]{16,400}$/;

export interface ApnsOptions {
  /** 10-character Team ID (`iss`). */
  teamId: string;
  /** 10-character key id of the .p8 key (`kid`). */
  keyId: string;
  /** The .p8 key (PEM, PKCS#8 P-256). Secret. */
  privateKey: string;
  /** The app's bundle id (`apns-topic`). */
  topic: string;
  /** Production, sandbox, or a local peer (`http://` means HTTP/2 without TLS). */
  baseUrl: string;
}

export class ApnsProvider {
  private readonly key: KeyObject;
  private session: http2.ClientHttp2Session | null = null;
  private connecting: Promise<http2.ClientHttp2Session> | null = null;
  private token: { value: string; issuedAt: number } | null = null;
  /** Provider tokens signed so far (tests and metrics). */
  tokensIssued = 0;
  /** HTTP/2 sessions opened so far (tests and metrics). */
  sessionsOpened = 0;

  constructor(
    private readonly opts: ApnsOptions,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly guard: UrlGuard,
    private readonly logger?: ChannelLogger,
  ) {
    this.key = createPrivateKey(opts.privateKey);
  }

  mask(address: string): string {
    return `apns:${maskToken(address)}`;
  }

  async send(msg: PushMessage, address: string, signal?: AbortSignal): Promise<ProviderResult> {
    if (!DEVICE_TOKEN_RE.test(address)) {
      return { outcome: 'permanent', status: 'BadDeviceToken', error: 'the device token is not hex' };
    }
    const secrets = [address, this.opts.privateKey];
    try {
      let answer = await this.post(msg, address, signal);
      let reason = apnsReason(answer.body);
      if (answer.status === 403 && reason === 'ExpiredProviderToken') {
        this.logger?.debug({ provider: 'apns' }, 'APNs says the provider token expired; signing a new one once');
        this.token = null;
        answer = await this.post(msg, address, signal);
        reason = apnsReason(answer.body);
      }
      const { outcome, retryAfterMs } = classifyStatus(answer.status, { 'retry-after': answer.retryAfter }, this.clock.now());
      if (outcome === 'ok') {
        return answer.apnsId ? { outcome, status: answer.status, providerId: answer.apnsId } : { outcome, status: answer.status };
      }
      const result: ProviderResult = {
        outcome,
        status: answer.status,
        error: `APNs answered ${answer.status}${reason ? ` ${redact(reason, secrets)}` : ''}`,
      };
      if (answer.status === 410) result.targetGone = true;
      if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
      return result;
    } catch (e) {
      if (e instanceof HttpFailure) return failureResult(e, 'APNs: ');
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.connecting) await this.connecting.catch(() => undefined);
    const s = this.session;
    this.session = null;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, this.timeoutMs);
      s.close(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The provider token, signed again once it is 50 minutes old. */
  private providerToken(): string {
    const now = this.clock.now();
    if (this.token && now - this.token.issuedAt < APNS_TOKEN_REFRESH_MS) return this.token.value;
    const value = signJwt('ES256', { kid: this.opts.keyId }, { iss: this.opts.teamId, iat: Math.floor(now / 1000) }, this.key);
    this.token = { value, issuedAt: now };
    this.tokensIssued++;
    this.logger?.debug({ provider: 'apns' }, 'APNs provider token signed');
    return value;
  }

  /** The open session, or a new one; a closed, failed or GOAWAY'd session is replaced. */
  private connection(): Promise<http2.ClientHttp2Session> {
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return Promise.resolve(current);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connect(): Promise<http2.ClientHttp2Session> {
    let addresses;
    try {
      // The same outbound policy as every channel: the host must resolve to allowed addresses,
      // and the connection goes to exactly those (no second DNS answer).
      addresses = (await this.guard.check(this.opts.baseUrl)).addresses;
    } catch (e) {
      if (e instanceof UrlRefusedError) throw new HttpFailure('refused', e.message, 'url_refused');
      if (e instanceof DnsUnavailableError) throw new HttpFailure('network', e.message, e.code);
      throw e;
    }
    const s = http2.connect(this.opts.baseUrl, { lookup: pinnedLookup(addresses) });
    this.sessionsOpened++;
    const forget = () => {
      if (this.session === s) this.session = null;
    };
    // Errors reach the streams too; here the session is only dropped so the next send reconnects.
    s.on('error', (e: NodeJS.ErrnoException) => {
      this.logger?.debug({ provider: 'apns', code: e.code }, 'APNs session error');
      forget();
    });
    s.on('goaway', forget);
    s.on('close', forget);
    this.session = s;
    return s;
  }

  private async post(
    msg: PushMessage,
    deviceToken: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: string; apnsId?: string; retryAfter?: string }> {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': `/3/device/${deviceToken}`,
      authorization: `bearer ${this.providerToken()}`,
      'apns-topic': this.opts.topic,
      'apns-push-type': 'alert',
      'apns-priority': isUrgent(msg.level) ? '10' : '5',
      'apns-expiration': String(Math.floor(this.clock.now() / 1000) + msg.ttlSeconds),
      'apns-collapse-id': msg.collapseId,
      'content-type': 'application/json',
    };
    const body = JSON.stringify(apnsPayload(msg));
    const session = await this.connection();
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new HttpFailure('aborted', 'the send was aborted', 'aborted'));
        return;
      }
      let settled = false;
      let req: http2.ClientHttp2Stream;
      const finish = (err: HttpFailure | null, answer?: { status: number; body: string; apnsId?: string; retryAfter?: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(answer!);
      };
      const cancel = (err: HttpFailure) => {
        if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
        finish(err);
      };
      const timer = setTimeout(() => cancel(new HttpFailure('timeout', `no answer within ${this.timeoutMs} ms`, 'timeout')), this.timeoutMs);
      const onAbort = () => cancel(new HttpFailure('aborted', 'the send was aborted', 'aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        req = session.request(headers);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'http2_error';
        finish(new HttpFailure('network', `network error ${code}`, code));
        return;
      }
      let status = 0;
      let apnsId: string | undefined;
      let retryAfter: string | undefined;
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        status = Number(h[':status'] ?? 0);
        if (typeof h['apns-id'] === 'string') apnsId = h['apns-id'];
        if (typeof h['retry-after'] === 'string') retryAfter = h['retry-after'];
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => finish(null, { status, body: Buffer.concat(chunks).toString('utf8'), apnsId, retryAfter }));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const code = e.code ?? 'http2_error';
        finish(new HttpFailure('network', `network error ${code}`, code));
      });
      req.end(body);
    });
  }
}

/** The APNs JSON: `aps` for the system, the original's `data` and `action` for the app. */
export function apnsPayload(msg: PushMessage): Record<string, unknown> {
  const p = msg.payload;
  const aps: Record<string, unknown> = { alert: { title: p.title, body: p.body }, badge: p.badge };
  if (isUrgent(msg.level)) {
    aps.sound = 'default';
    aps['interruption-level'] = 'time-sensitive';
  }
  return { aps, data: p.data, action: p.action };
}

function apnsReason(body: string): string | undefined {
  const r = parseJsonBody(body).reason;
  return typeof r === 'string' ? r : undefined;
}
