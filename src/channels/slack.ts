/**
 * Slack: an incoming-webhook message. Block Kit blocks inside one attachment, so the message gets
 * the original's level colour bar; a plain `text` for notifications and old clients. Slack's
 * plain-text error codes are permanent; 429 carries Retry-After.
 */
import type { ChannelTarget, Notification, SendResult } from './channel.js';
import type { InterventionLevelName } from './levels.js';
import {
  actionLink,
  ChannelConfigError,
  classifyStatus,
  DEFAULT_TIMEOUT_MS,
  describeAnswer,
  intOption,
  truncate,
  type ChannelDeps,
  type HttpResponse,
} from './http.js';
import type { Redactor } from './mask.js';
import { HttpPostChannel, type JsonPost } from './httpChannel.js';

/** Attachment colour bar of the original, per level. */
export const SLACK_COLORS: Record<InterventionLevelName, string> = {
  INFO: '#36a64f',
  WARNING: '#ff9900',
  URGENT: '#ff6600',
  CRITICAL: '#ff0000',
};

/** Slack's limits (https://api.slack.com/reference/block-kit/blocks). */
export const SLACK_LIMITS = {
  /** At most 50 blocks in a message. */
  blocks: 50,
  /** Section block text: 3000 characters. */
  sectionText: 3000,
  /** Section block: at most 10 fields, each 2000 characters. */
  sectionFields: 10,
  fieldText: 2000,
  /** Header block plain text: 150 characters. */
  header: 150,
  /** Message `text`: 40,000 characters; we keep it to one section's worth. */
  text: 3000,
} as const;

/** Slack's plain-text error codes that no retry can fix. */
export const SLACK_PERMANENT_CODES = ['invalid_payload', 'action_prohibited', 'no_service', 'channel_not_found', 'channel_is_archived', 'no_active_hooks'];
/** Of those, the ones that mean the webhook or its channel is gone for good. */
export const SLACK_GONE_CODES = ['no_service', 'no_active_hooks', 'channel_not_found', 'channel_is_archived'];

export interface SlackConfig {
  /** Whole-request timeout in ms. Default 10000. */
  timeoutMs?: number;
  /** Dashboard base URL; with it, the message gets a "Review" button to the action URL. */
  publicUrl?: string;
}

type Block = Record<string, unknown>;

export interface SlackPayload {
  text: string;
  attachments: { color: string; fallback: string; blocks: Block[] }[];
}

export function validateSlackConfig(cfg: SlackConfig = {}): { timeoutMs: number; publicUrl?: string } {
  if (cfg.publicUrl !== undefined && !/^https?:\/\/\S+$/.test(cfg.publicUrl)) {
    throw new ChannelConfigError('channels.slack.public_url', 'must be an http(s) URL');
  }
  return { publicUrl: cfg.publicUrl, timeoutMs: intOption('channels.slack.timeout_ms', cfg.timeoutMs, DEFAULT_TIMEOUT_MS, 100, 300_000) };
}

/** Escapes the three characters Slack's mrkdwn gives meaning to, then cuts to `max`. */
export function mrkdwn(text: string, max: number): string {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (escaped.length <= max) return escaped;
  return truncate(escaped, max).replace(/&[a-z]{0,3}…$/, '…');
}

function value(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

/** Renders a notification as an incoming-webhook payload within SLACK_LIMITS. */
export function renderSlack(n: Notification, cfg: SlackConfig = {}): SlackPayload {
  const head: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(n.title, SLACK_LIMITS.header), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: mrkdwn(n.message || '-', SLACK_LIMITS.sectionText) } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Level*\n${n.level}` },
        { type: 'mrkdwn', text: `*Task*\n${mrkdwn(n.task_id ?? '-', SLACK_LIMITS.fieldText - 10)}` },
        { type: 'mrkdwn', text: `*Reasons*\n${mrkdwn(n.reasons.join(', ') || '-', SLACK_LIMITS.fieldText - 10)}` },
      ],
    },
  ];
  const tail: Block[] = [];
  const link = actionLink(cfg.publicUrl, n.action_url);
  if (link) tail.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Review' }, url: truncate(link, 3000) }] });
  tail.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: mrkdwn(`Vigil · ${n.timestamp} · intervention ${n.intervention_id}`, SLACK_LIMITS.sectionText) }],
  });
  // Context entries as section fields, ten per section, as many sections as the 50 blocks leave.
  const ctx: Block[] = [];
  const entries = Object.entries(n.context);
  const room = SLACK_LIMITS.blocks - head.length - tail.length;
  for (let i = 0; i < entries.length && ctx.length < room; i += SLACK_LIMITS.sectionFields) {
    const fields = entries.slice(i, i + SLACK_LIMITS.sectionFields).map(([k, v]) => {
      const name = mrkdwn(k, 200);
      return { type: 'mrkdwn', text: `*${name}*\n${mrkdwn(value(v), SLACK_LIMITS.fieldText - name.length - 3)}` };
    });
    ctx.push({ type: 'section', fields });
  }
  const text = truncate(`[${n.level}] ${n.title}`, SLACK_LIMITS.text);
  return { text, attachments: [{ color: SLACK_COLORS[n.level], fallback: text, blocks: [...head, ...ctx, ...tail] }] };
}

/** Reads Slack's answer: `ok`, a plain-text error code (permanent), 429 with Retry-After, 5xx. */
export function classifySlack(res: HttpResponse, redactor: Redactor, nowMs: number): Omit<SendResult, 'durationMs'> {
  const base = classifyStatus(res.status, res.headers, nowMs);
  if (base.outcome === 'ok') return { outcome: 'ok', status: res.status };
  const code = res.body.trim();
  if (SLACK_PERMANENT_CODES.includes(code)) {
    const gone = SLACK_GONE_CODES.includes(code);
    return { outcome: 'permanent', status: res.status, error: `Slack answered ${code} (HTTP ${res.status})`, ...(gone ? { targetGone: true } : {}) };
  }
  return { ...base, status: res.status, error: describeAnswer(res, redactor) };
}

export class SlackChannel extends HttpPostChannel<ReturnType<typeof validateSlackConfig>> {
  readonly name = 'slack';

  constructor(config: SlackConfig = {}, deps: ChannelDeps = {}) {
    super(validateSlackConfig(config), deps);
  }

  protected build(n: Notification, target: ChannelTarget): JsonPost {
    return { url: target.address, body: JSON.stringify(renderSlack(n, this.cfg)) };
  }

  protected classify(res: HttpResponse, redactor: Redactor): Omit<SendResult, 'durationMs'> {
    return classifySlack(res, redactor, this.now());
  }
}
