/**
 * Email over SMTP through nodemailer: STARTTLS or implicit TLS, optional AUTH, a text and an HTML
 * part, the original's subject `[LEVEL] Intervention Required for Task <id>`. SMTP 4xx replies and
 * connection failures are retryable, 5xx replies permanent. The server's host is checked by the
 * URL guard and the connection goes to the checked address (TLS still verifies the host name).
 */
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import type { Channel, ChannelTarget, Notification, SendResult } from './channel.js';
import type { InterventionLevelName } from './levels.js';
import { actionLink, ChannelConfigError, intOption, logResult, silentLogger, type ChannelDeps, type ChannelLogger } from './http.js';
import { maskEmail, Redactor } from './mask.js';
import { DnsUnavailableError, UrlGuard, UrlRefusedError } from './urlGuard.js';

/** Level colours of the original (its Slack colours), for the HTML part's bar. */
export const EMAIL_COLORS: Record<InterventionLevelName, string> = { INFO: '#36a64f', WARNING: '#ff9900', URGENT: '#ff6600', CRITICAL: '#ff0000' };

export const DEFAULT_SMTP_PORT = 587;
export const DEFAULT_SMTPS_PORT = 465;
/** Connect, greeting and idle-socket timeouts, in ms. */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
export const DEFAULT_GREETING_TIMEOUT_MS = 10_000;
export const DEFAULT_SOCKET_TIMEOUT_MS = 30_000;

export type StartTls = 'required' | 'opportunistic' | 'never';

export interface EmailConfig {
  /** SMTP server host. Required (or SMTP_URL). */
  host?: string;
  /** Default 587, or 465 with `secure`. */
  port?: number;
  /** Implicit TLS from the first byte (smtps, port 465). Default false. */
  secure?: boolean;
  /** STARTTLS on a plain connection: required, opportunistic or never. Default required when a user is set, else opportunistic. */
  starttls?: StartTls;
  user?: string;
  pass?: string;
  /** Sender address, e.g. `Vigil <vigil@example.com>`. Required (or SMTP_FROM). */
  from?: string;
  /** Name sent in EHLO. Default: the machine's host name. */
  heloName?: string;
  /** Verify the server's certificate. Default true. */
  tlsRejectUnauthorized?: boolean;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
  /** Dashboard base URL for the link in the message. */
  publicUrl?: string;
}

export interface ResolvedEmailConfig extends Required<Pick<EmailConfig, 'host' | 'port' | 'secure' | 'starttls' | 'from' | 'tlsRejectUnauthorized'>> {
  user?: string;
  pass?: string;
  heloName?: string;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  publicUrl?: string;
}

const ADDRESS_RE = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

/** Reads `smtp://user:pass@host:port` or `smtps://…` (`?starttls=required|opportunistic|never`) into options. */
export function parseSmtpUrl(url: string): EmailConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ChannelConfigError('SMTP_URL', 'is not a URL (smtp://user:pass@host:port or smtps://…)');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new ChannelConfigError('SMTP_URL', 'must start with smtp:// or smtps://');
  const cfg: EmailConfig = { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), secure: u.protocol === 'smtps:' };
  if (u.port) cfg.port = Number(u.port);
  if (u.username) cfg.user = decodeURIComponent(u.username);
  if (u.password) cfg.pass = decodeURIComponent(u.password);
  const st = u.searchParams.get('starttls');
  if (st) cfg.starttls = st as StartTls;
  return cfg;
}

export function validateEmailConfig(cfg: EmailConfig): ResolvedEmailConfig {
  if (!cfg.host) throw new ChannelConfigError('channels.email.host', 'is required (or set SMTP_URL)');
  if (!cfg.from) throw new ChannelConfigError('channels.email.from', 'is required (or set SMTP_FROM)');
  const bare = /<([^>]+)>\s*$/.exec(cfg.from)?.[1] ?? cfg.from;
  if (!ADDRESS_RE.test(bare.trim())) throw new ChannelConfigError('channels.email.from', 'must be an email address, optionally "Name <address>"');
  const starttls = cfg.starttls ?? (cfg.user ? 'required' : 'opportunistic');
  if (!['required', 'opportunistic', 'never'].includes(starttls)) throw new ChannelConfigError('channels.email.starttls', 'must be required, opportunistic or never');
  if (cfg.user && !cfg.pass) throw new ChannelConfigError('channels.email.pass', 'is required when channels.email.user is set');
  const secure = cfg.secure ?? false;
  return {
    host: cfg.host,
    port: intOption('channels.email.port', cfg.port, secure ? DEFAULT_SMTPS_PORT : DEFAULT_SMTP_PORT, 1, 65535),
    secure,
    starttls,
    from: cfg.from,
    user: cfg.user,
    pass: cfg.pass,
    heloName: cfg.heloName,
    tlsRejectUnauthorized: cfg.tlsRejectUnauthorized ?? true,
    connectionTimeoutMs: intOption('channels.email.connection_timeout_ms', cfg.connectionTimeoutMs, DEFAULT_CONNECTION_TIMEOUT_MS, 100, 300_000),
    greetingTimeoutMs: intOption('channels.email.greeting_timeout_ms', cfg.greetingTimeoutMs, DEFAULT_GREETING_TIMEOUT_MS, 100, 300_000),
    socketTimeoutMs: intOption('channels.email.socket_timeout_ms', cfg.socketTimeoutMs, DEFAULT_SOCKET_TIMEOUT_MS, 100, 600_000),
    publicUrl: cfg.publicUrl,
  };
}

/** `[LEVEL] Intervention Required for Task <id>`; without a task, `[LEVEL] <title>`. One line. */
export function emailSubject(n: Notification): string {
  const s = n.task_id ? `[${n.level}] Intervention Required for Task ${n.task_id}` : `[${n.level}] ${n.title}`;
  return s.replace(/[\r\n]+/g, ' ').slice(0, 250);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

export function renderEmail(n: Notification, publicUrl?: string): { subject: string; text: string; html: string } {
  const link = actionLink(publicUrl, n.action_url);
  const rows: [string, string][] = [
    ['Level', n.level],
    ['Task', n.task_id ?? '-'],
    ['Reasons', n.reasons.join(', ') || '-'],
    ['When', n.timestamp],
    ...Object.entries(n.context).map(([k, v]): [string, string] => [k, show(v)]),
  ];
  const text = [n.title, '', n.message, '', ...rows.map(([k, v]) => `${k}: ${v}`), ...(link ? ['', `Review: ${link}`] : []), '', `Vigil · intervention ${n.intervention_id}`].join('\n');
  const html = [
    `<div style="border-left:6px solid ${EMAIL_COLORS[n.level]};padding:8px 16px;font-family:sans-serif">`,
    `<h2 style="margin:0 0 8px">${esc(n.title)}</h2>`,
    `<p style="white-space:pre-wrap">${esc(n.message)}</p>`,
    '<table cellpadding="4">',
    ...rows.map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td>${esc(v)}</td></tr>`),
    '</table>',
    link ? `<p><a href="${esc(link)}">Review</a></p>` : '',
    `<p style="color:#888;font-size:12px">Vigil · intervention ${esc(n.intervention_id)}</p>`,
    '</div>',
  ].join('\n');
  return { subject: emailSubject(n), text, html };
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  permanent?: boolean;
}

/** Connection failures are retryable; these are configuration or policy problems no retry fixes. */
const PERMANENT_CODES = new Set(['ETLS', 'EREQUIRETLS', 'ENOAUTH', 'ECONFIG', 'EENVELOPE', 'EMESSAGE', 'EMAXRECIPIENTS']);

/** Reads a nodemailer error: SMTP 5xx permanent (503 excepted), 4xx retryable, connection failures retryable. */
export function classifySmtpError(err: SmtpError, redactor: Redactor): Omit<SendResult, 'durationMs'> {
  if (typeof err.responseCode === 'number') {
    const permanent = err.permanent ?? (err.responseCode >= 500 && err.responseCode !== 503);
    const reply = err.response ? `: ${err.response}` : '';
    const error = redactor.redact(`SMTP ${err.responseCode}${err.command ? ` after ${err.command.split(' ')[0]}` : ''}${reply}`);
    return { outcome: permanent ? 'permanent' : 'retryable', status: err.responseCode, error };
  }
  const code = err.code ?? 'error';
  const error = redactor.redact(`${code}: ${err.message}`);
  return { outcome: PERMANENT_CODES.has(code) ? 'permanent' : 'retryable', status: code, error };
}

export class EmailChannel implements Channel {
  readonly name = 'email';
  private readonly cfg: ResolvedEmailConfig;
  private readonly guard: UrlGuard;
  private readonly logger: ChannelLogger;
  private readonly secrets: Redactor;

  constructor(config: EmailConfig, deps: ChannelDeps = {}) {
    this.cfg = validateEmailConfig(config);
    this.guard = deps.guard ?? deps.http?.guard ?? new UrlGuard();
    this.logger = deps.logger ?? silentLogger;
    this.secrets = new Redactor().add(this.cfg.pass).add(this.cfg.user && this.cfg.pass ? `\u0000${this.cfg.user}\u0000${this.cfg.pass}` : undefined);
    if (this.cfg.user) this.secrets.add(this.cfg.user, this.cfg.user.includes('@') ? maskEmail(this.cfg.user) : '****');
  }

  mask(target: ChannelTarget): string {
    return target.address
      .split(',')
      .map((a) => maskEmail(a.trim()))
      .join(', ');
  }

  async send(n: Notification, target: ChannelTarget, signal?: AbortSignal): Promise<SendResult> {
    const started = Date.now();
    const to = target.address.split(',').map((a) => a.trim()).filter(Boolean);
    const redactor = new Redactor(to.map((a) => ({ value: a, masked: maskEmail(a) }))).merge(this.secrets);
    let result: SendResult;
    if (to.length === 0 || !to.every((a) => ADDRESS_RE.test(a))) {
      result = { outcome: 'permanent', status: 'invalid_target', error: `not an email address list: ${this.mask(target)}`, durationMs: 0 };
    } else {
      try {
        result = await this.deliver(n, to, redactor, signal);
      } catch (err) {
        result =
          err instanceof UrlRefusedError
            ? { outcome: 'permanent', status: 'url_refused', error: redactor.redact(err.message), durationMs: 0 }
            : err instanceof DnsUnavailableError
              ? { outcome: 'retryable', status: err.code, error: redactor.redact(err.message), durationMs: 0 }
              : { ...classifySmtpError(err as SmtpError, redactor), durationMs: 0 };
      }
      result.durationMs = Date.now() - started;
    }
    logResult(this.logger, this.name, this.mask(target), result);
    return result;
  }

  private async deliver(n: Notification, to: string[], redactor: Redactor, signal?: AbortSignal): Promise<SendResult> {
    const c = this.cfg;
    const [address] = await this.guard.checkHost(c.host);
    const transport = nodemailer.createTransport({
      host: address.address,
      port: c.port,
      secure: c.secure,
      requireTLS: !c.secure && c.starttls === 'required',
      ignoreTLS: !c.secure && c.starttls === 'never',
      name: c.heloName,
      auth: c.user ? { user: c.user, pass: c.pass } : undefined,
      // TLS verifies the configured name while the socket goes to the checked address (SNI takes names only).
      tls: { ...(isIP(c.host) ? {} : { servername: c.host }), rejectUnauthorized: c.tlsRejectUnauthorized },
      connectionTimeout: c.connectionTimeoutMs,
      greetingTimeout: c.greetingTimeoutMs,
      socketTimeout: c.socketTimeoutMs,
      logger: false,
      debug: false,
    });
    try {
      const { subject, text, html } = renderEmail(n, c.publicUrl);
      const info = await transport.sendMail({
        from: c.from,
        to,
        subject,
        text,
        html,
        messageId: `<${n.delivery_id}@vigil>`,
        headers: { 'X-Vigil-Delivery-Id': n.delivery_id, 'X-Vigil-Level': n.level },
        signal,
      });
      const rejected = (info.rejected ?? []).length;
      const result: SendResult = { outcome: 'ok', status: 250, providerId: info.messageId, durationMs: 0 };
      if (rejected > 0) result.error = redactor.redact(`${rejected} of ${to.length} recipients rejected: ${(info.rejected as string[]).join(', ')}`);
      return result;
    } finally {
      transport.close();
    }
  }
}
