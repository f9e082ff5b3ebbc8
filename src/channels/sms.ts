/**
 * SMS through Twilio's Messages API: a form POST to
 * `{base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic auth. Numbers are
 * validated and normalised to E.164; the body (`CRITICAL: Task <id> Reason: <reason>`, as the
 * original) is shortened to a segment budget, one segment by default.
 */
import type { Channel, ChannelTarget, Notification, SendResult } from './channel.js';
import {
  ChannelConfigError,
  classifyStatus,
  DEFAULT_TIMEOUT_MS,
  describeAnswer,
  failureResult,
  HttpClient,
  intOption,
  logResult,
  silentLogger,
  type ChannelDeps,
  type ChannelLogger,
  type HttpResponse,
} from './http.js';
import { maskId, maskPhone, Redactor } from './mask.js';
import { fitToSegments, smartEncode } from './smsSegments.js';

export const TWILIO_API_BASE = 'https://api.twilio.com';
/** Default segment budget per message. */
export const DEFAULT_MAX_SEGMENTS = 1;
/** At most 10 segments: Twilio's 1600-character Body is about 10 GSM-7 parts. */
export const MAX_SEGMENTS = 10;
/** Twilio error codes that mean this number will never receive: invalid To, opted out (STOP), not a mobile. */
export const TWILIO_GONE_CODES = [21211, 21610, 21614];

export interface SmsConfig {
  /** Twilio Account SID (`AC` + 32 hex). Env TWILIO_ACCOUNT_SID. */
  accountSid?: string;
  /** Twilio Auth Token. Env TWILIO_AUTH_TOKEN. */
  authToken?: string;
  /** Sender number, E.164. Env TWILIO_PHONE_NUMBER. Either this or messagingServiceSid. */
  from?: string;
  /** Messaging Service SID (`MG` + 32 hex), used instead of `from`. */
  messagingServiceSid?: string;
  /** API base URL. Default https://api.twilio.com; env TWILIO_API_BASE. */
  apiBase?: string;
  /** Segment budget per message, 1–10. Default 1. */
  maxSegments?: number;
  /** Replace typographic quotes, dashes and ellipses by GSM-7 look-alikes. Default true. */
  smartEncoding?: boolean;
  /** Twilio calls this URL with delivery status updates. */
  statusCallback?: string;
  /** Whole-request timeout in ms. Default 10000. */
  timeoutMs?: number;
}

export interface ResolvedSmsConfig {
  accountSid: string;
  authToken: string;
  from?: string;
  messagingServiceSid?: string;
  apiBase: string;
  maxSegments: number;
  smartEncoding: boolean;
  statusCallback?: string;
  timeoutMs: number;
}

/**
 * E.164: `+`, a non-zero first digit, at most 15 digits. Spaces, dashes, dots and parentheses are
 * dropped (`+1-555-123-4567` → `+15551234567`); a leading `00` is read as `+`. Null when invalid.
 */
export function normalizeE164(raw: string): string | null {
  let v = String(raw).trim().replace(/[\s().-]/g, '');
  if (v.startsWith('00')) v = `+${v.slice(2)}`;
  return /^\+[1-9]\d{1,14}$/.test(v) ? v : null;
}

export function validateSmsConfig(cfg: SmsConfig = {}, env: NodeJS.ProcessEnv = {}): ResolvedSmsConfig {
  const accountSid = cfg.accountSid ?? env.TWILIO_ACCOUNT_SID;
  const authToken = cfg.authToken ?? env.TWILIO_AUTH_TOKEN;
  const fromRaw = cfg.from ?? env.TWILIO_PHONE_NUMBER;
  if (!accountSid) throw new ChannelConfigError('channels.sms.account_sid', 'is required (or set TWILIO_ACCOUNT_SID)');
  if (!/^AC[0-9a-fA-F]{32}$/.test(accountSid)) throw new ChannelConfigError('channels.sms.account_sid', 'must be "AC" followed by 32 hex digits');
  if (!authToken) throw new ChannelConfigError('channels.sms.auth_token', 'is required (or set TWILIO_AUTH_TOKEN)');
  let from: string | undefined;
  if (fromRaw) {
    from = normalizeE164(fromRaw) ?? undefined;
    if (!from) throw new ChannelConfigError('channels.sms.from', 'must be an E.164 phone number such as +15551234567');
  }
  const mss = cfg.messagingServiceSid;
  if (mss !== undefined && !/^MG[0-9a-fA-F]{32}$/.test(mss)) throw new ChannelConfigError('channels.sms.messaging_service_sid', 'must be "MG" followed by 32 hex digits');
  if (!from && !mss) throw new ChannelConfigError('channels.sms.from', 'is required unless messagingServiceSid is set (or set TWILIO_PHONE_NUMBER)');
  const apiBase = (cfg.apiBase ?? env.TWILIO_API_BASE ?? TWILIO_API_BASE).replace(/\/+$/, '');
  if (!/^https?:\/\/\S+$/.test(apiBase)) throw new ChannelConfigError('channels.sms.api_base', 'must be an http(s) URL');
  if (cfg.statusCallback !== undefined && !/^https?:\/\/\S+$/.test(cfg.statusCallback)) {
    throw new ChannelConfigError('channels.sms.status_callback', 'must be an http(s) URL');
  }
  return {
    accountSid,
    authToken,
    from,
    messagingServiceSid: mss,
    apiBase,
    maxSegments: intOption('channels.sms.max_segments', cfg.maxSegments, DEFAULT_MAX_SEGMENTS, 1, MAX_SEGMENTS),
    smartEncoding: cfg.smartEncoding ?? true,
    statusCallback: cfg.statusCallback,
    timeoutMs: intOption('channels.sms.timeout_ms', cfg.timeoutMs, DEFAULT_TIMEOUT_MS, 100, 300_000),
  };
}

/** The original's text, `CRITICAL: Task <id> Reason: <reasons> - <message>`, fitted to the segment budget. */
export function renderSms(n: Notification, maxSegments = DEFAULT_MAX_SEGMENTS, smartEncoding = true): string {
  const reason = n.reasons.join(', ') || n.message;
  let text = `${n.level}: Task ${n.task_id ?? '-'} Reason: ${reason}`;
  if (n.message && n.message !== reason) text += ` - ${n.message}`;
  text = text.replace(/\s+/g, ' ').trim();
  return fitToSegments(smartEncoding ? smartEncode(text) : text, maxSegments);
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads Twilio's answer: a 201 message resource, or an error `{code, message, more_info, status}`. */
export function classifyTwilio(res: HttpResponse, redactor: Redactor, nowMs: number): Omit<SendResult, 'durationMs'> {
  const json = parseJson(res.body);
  const base = classifyStatus(res.status, res.headers, nowMs);
  if (base.outcome === 'ok') {
    const sid = typeof json?.sid === 'string' ? json.sid : undefined;
    if (json?.status === 'failed' || json?.status === 'undelivered') {
      const err = redactor.redact(`Twilio accepted the message as ${json.status}${json.error_code ? ` (error ${String(json.error_code)})` : ''}`);
      return { outcome: 'permanent', status: res.status, error: err, ...(sid ? { providerId: sid } : {}) };
    }
    return sid ? { outcome: 'ok', status: res.status, providerId: sid } : { outcome: 'ok', status: res.status };
  }
  const code = typeof json?.code === 'number' ? json.code : undefined;
  const detail = code !== undefined ? `Twilio error ${code}: ${typeof json?.message === 'string' ? json.message : ''}` : undefined;
  const error = describeAnswer(res, redactor, detail);
  if (code === 20429 && base.outcome !== 'retryable') return { outcome: 'retryable', status: res.status, error };
  const gone = base.outcome === 'permanent' && code !== undefined && TWILIO_GONE_CODES.includes(code);
  return { ...base, status: res.status, error, ...(gone ? { targetGone: true } : {}) };
}

export class SmsChannel implements Channel {
  readonly name = 'sms';
  readonly config: Readonly<Omit<ResolvedSmsConfig, 'authToken'>>;
  private readonly authToken: string;
  private readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private readonly logger: ChannelLogger;
  private readonly now: () => number;
  private readonly secrets: Redactor;

  /** Credentials come from `config`, else from `env` (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER, TWILIO_API_BASE). */
  constructor(config: SmsConfig = {}, deps: ChannelDeps & { env?: NodeJS.ProcessEnv } = {}) {
    const { authToken, ...rest } = validateSmsConfig(config, deps.env ?? process.env);
    this.config = rest;
    this.authToken = authToken;
    this.ownsHttp = !deps.http;
    this.http = deps.http ?? new HttpClient({ guard: deps.guard });
    this.logger = deps.logger ?? silentLogger;
    this.now = deps.now ?? Date.now;
    this.secrets = new Redactor()
      .add(`${rest.accountSid}:${authToken}`)
      .add(authToken)
      .add(rest.accountSid, maskId(rest.accountSid));
    if (rest.from) this.secrets.add(rest.from, maskPhone(rest.from)).add(rest.from.slice(1), maskPhone(rest.from));
  }

  mask(target: ChannelTarget): string {
    return maskPhone(target.address);
  }

  async send(n: Notification, target: ChannelTarget, signal?: AbortSignal): Promise<SendResult> {
    const started = Date.now();
    const to = normalizeE164(target.address);
    let result: SendResult;
    if (!to) {
      result = { outcome: 'permanent', status: 'invalid_target', error: `${maskPhone(target.address)} is not an E.164 phone number`, durationMs: 0, targetGone: true };
    } else {
      const redactor = new Redactor().add(target.address, maskPhone(to)).add(to, maskPhone(to)).add(to.slice(1), maskPhone(to));
      const redact = this.secrets.merge(redactor);
      const form = new URLSearchParams({ To: to, Body: renderSms(n, this.config.maxSegments, this.config.smartEncoding) });
      if (this.config.messagingServiceSid) form.set('MessagingServiceSid', this.config.messagingServiceSid);
      else form.set('From', this.config.from!);
      if (this.config.statusCallback) form.set('StatusCallback', this.config.statusCallback);
      const url = `${this.config.apiBase}/2010-04-01/Accounts/${encodeURIComponent(this.config.accountSid)}/Messages.json`;
      try {
        const res = await this.http.request({
          url,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
            authorization: `Basic ${Buffer.from(`${this.config.accountSid}:${this.authToken}`).toString('base64')}`,
          },
          body: form.toString(),
          timeoutMs: this.config.timeoutMs,
          signal,
        });
        result = { ...classifyTwilio(res, redact, this.now()), durationMs: Date.now() - started };
      } catch (err) {
        result = failureResult(err, redact, started);
      }
    }
    logResult(this.logger, this.name, this.mask(target), result);
    return result;
  }

  async close(): Promise<void> {
    if (this.ownsHttp) await this.http.close();
  }
}
