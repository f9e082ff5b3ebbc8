/**
 * The generic webhook: a JSON POST signed the Standard Webhooks way (https://www.standardwebhooks.com):
 * `webhook-id` (the delivery id, the same on every retry, so receivers can de-duplicate),
 * `webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the bytes of a `whsec_<base64>` secret).
 * `verifyWebhook` is the receiver's side.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ChannelTarget, Notification, SendResult } from './channel.js';
import {
  ChannelConfigError,
  classifyStatus,
  DEFAULT_TIMEOUT_MS,
  describeAnswer,
  intOption,
  type ChannelDeps,
  type HttpResponse,
} from './http.js';
import { urlSecrets, type Redactor } from './mask.js';
import { HttpPostChannel, type JsonPost } from './httpChannel.js';

/** Receivers reject timestamps further than this from their clock (5 minutes). */
export const WEBHOOK_TOLERANCE_SEC = 300;
/** The `type` of the payloads Vigil sends. */
export const WEBHOOK_EVENT_TYPE = 'intervention.notification';

export interface WebhookConfig {
  /** The signing secret, `whsec_<base64>` (24 to 64 random bytes). Required. */
  secret?: string;
  /** Further secrets by name; a target picks one with `options.secretName`. */
  secrets?: Record<string, string>;
  /** Whole-request timeout in ms. Default 10000. */
  timeoutMs?: number;
}

/** The body Vigil posts: Standard Webhooks' `{type, timestamp, data}` envelope. */
export interface WebhookPayload {
  type: typeof WEBHOOK_EVENT_TYPE;
  timestamp: string;
  data: Notification;
}

/** Decodes a `whsec_` secret into its key bytes; throws naming `option` when it is malformed. */
export function secretKey(secret: string, option = 'channels.webhook.secret'): Buffer {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret ?? '');
  if (!m) throw new ChannelConfigError(option, 'must be "whsec_" followed by base64');
  const key = Buffer.from(m[1], 'base64');
  if (key.length < 24 || key.length > 64) throw new ChannelConfigError(option, 'must hold 24 to 64 bytes (base64 of random bytes)');
  return key;
}

/** A new random secret in the `whsec_` form. */
export function generateWebhookSecret(bytes = 32): string {
  return `whsec_${randomBytes(bytes).toString('base64')}`;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function signWebhook(secret: string, id: string, timestampSec: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSec}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

/**
 * For receivers: checks the Standard Webhooks headers of a request against the raw body and
 * returns the parsed payload; throws WebhookVerificationError when the headers are missing, the
 * timestamp is more than `toleranceSec` away, or no `v1` signature matches.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  options: { toleranceSec?: number; nowMs?: number } = {},
): WebhookPayload {
  const h = (name: string): string | undefined => {
    const v = headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = h('webhook-id');
  const ts = h('webhook-timestamp');
  const sigs = h('webhook-signature');
  if (!id || !ts || !sigs) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^\d+$/.test(ts)) throw new WebhookVerificationError('webhook-timestamp is not unix seconds');
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - Number(ts)) > (options.toleranceSec ?? WEBHOOK_TOLERANCE_SEC)) throw new WebhookVerificationError('webhook-timestamp is too far from now');
  const expected = Buffer.from(signWebhook(secret, id, Number(ts), body).slice(3), 'base64');
  const ok = sigs.split(' ').some((s) => {
    const [version, value] = s.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!ok) throw new WebhookVerificationError('no matching signature');
  try {
    return JSON.parse(body) as WebhookPayload;
  } catch {
    throw new WebhookVerificationError('the body is not JSON');
  }
}

export function validateWebhookConfig(cfg: WebhookConfig = {}): { secret: string; secrets: Record<string, string>; timeoutMs: number } {
  if (!cfg.secret) throw new ChannelConfigError('channels.webhook.secret', 'is required (generate one: "whsec_" + base64 of 32 random bytes)');
  secretKey(cfg.secret);
  const secrets = cfg.secrets ?? {};
  for (const [name, s] of Object.entries(secrets)) secretKey(s, `channels.webhook.secrets.${name}`);
  return { secret: cfg.secret, secrets, timeoutMs: intOption('channels.webhook.timeout_ms', cfg.timeoutMs, DEFAULT_TIMEOUT_MS, 100, 300_000) };
}

export class WebhookChannel extends HttpPostChannel<ReturnType<typeof validateWebhookConfig>> {
  readonly name = 'webhook';

  constructor(config: WebhookConfig = {}, deps: ChannelDeps = {}) {
    super(validateWebhookConfig(config), deps);
  }

  protected override redactor(target: ChannelTarget): Redactor {
    const redactor = urlSecrets(target.address);
    for (const s of [this.cfg.secret, ...Object.values(this.cfg.secrets)]) redactor.add(s).add(s.slice(6));
    return redactor;
  }

  protected build(n: Notification, target: ChannelTarget): JsonPost | SendResult {
    const secretName = target.options?.secretName;
    const secret = typeof secretName === 'string' ? this.cfg.secrets[secretName] : this.cfg.secret;
    if (!secret) {
      return { outcome: 'permanent', status: 'invalid_target', error: `no secret named "${String(secretName)}" in channels.webhook.secrets`, durationMs: 0 };
    }
    const body = JSON.stringify({ type: WEBHOOK_EVENT_TYPE, timestamp: n.timestamp, data: n } satisfies WebhookPayload);
    const ts = Math.floor(this.now() / 1000);
    return {
      url: target.address,
      headers: { 'webhook-id': n.delivery_id, 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(secret, n.delivery_id, ts, body) },
      body,
    };
  }

  protected classify(res: HttpResponse, redactor: Redactor): Omit<SendResult, 'durationMs'> {
    const base = classifyStatus(res.status, res.headers, this.now());
    return {
      ...base,
      status: res.status,
      ...(base.outcome !== 'ok' ? { error: describeAnswer(res, redactor) } : {}),
      // 410 Gone: the receiver asks us to stop sending to this endpoint.
      ...(res.status === 410 ? { targetGone: true } : {}),
    };
  }
}
