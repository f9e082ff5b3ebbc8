/**
 * Discord: one webhook message with one embed per notification, in the original's level colours,
 * with a timestamp and a footer, cut to Discord's limits. A 429 asks us to wait `retry_after`;
 * a 404 means the webhook was deleted (permanent, target gone).
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

/** Embed colours of the original, per level. */
export const DISCORD_COLORS: Record<InterventionLevelName, number> = {
  INFO: 3447003,
  WARNING: 15105570,
  URGENT: 16711680,
  CRITICAL: 10038562,
};

/**
 * Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits
 * and .../resources/webhook#execute-webhook).
 */
export const DISCORD_LIMITS = {
  /** Webhook `username`: 1 to 80 characters. */
  username: 80,
  /** Embed title: 256 characters. */
  title: 256,
  /** Embed description: 4096 characters. */
  description: 4096,
  /** Up to 25 fields per embed. */
  fields: 25,
  /** Field name: 256 characters. */
  fieldName: 256,
  /** Field value: 1024 characters. */
  fieldValue: 1024,
  /** Footer text: 2048 characters. */
  footer: 2048,
  /** The characters of all embeds of a message together: 6000. */
  total: 6000,
} as const;

export interface DiscordConfig {
  /** Webhook display name override (1–80 characters). Default: the webhook's own name. */
  username?: string;
  /** Avatar image URL override. */
  avatarUrl?: string;
  /** Add `?wait=true` so Discord answers 200 with the message (its id becomes providerId). Default true. */
  wait?: boolean;
  /** Whole-request timeout in ms. Default 10000. */
  timeoutMs?: number;
  /** Dashboard base URL; with it, the embed title links to the notification's action URL. */
  publicUrl?: string;
}

export interface DiscordEmbed {
  title: string;
  description: string;
  color: number;
  timestamp: string;
  url?: string;
  fields: { name: string; value: string; inline?: boolean }[];
  footer: { text: string };
}

export interface DiscordPayload {
  username?: string;
  avatar_url?: string;
  embeds: DiscordEmbed[];
  allowed_mentions: { parse: string[] };
}

export function validateDiscordConfig(cfg: DiscordConfig = {}): Required<Pick<DiscordConfig, 'wait' | 'timeoutMs'>> & DiscordConfig {
  if (cfg.username !== undefined && (typeof cfg.username !== 'string' || cfg.username.length < 1 || cfg.username.length > DISCORD_LIMITS.username)) {
    throw new ChannelConfigError('channels.discord.username', `must be 1 to ${DISCORD_LIMITS.username} characters`);
  }
  for (const opt of ['avatarUrl', 'publicUrl'] as const) {
    const v = cfg[opt];
    if (v !== undefined && !/^https?:\/\/[^\s]+$/.test(v)) throw new ChannelConfigError(`channels.discord.${opt === 'avatarUrl' ? 'avatar_url' : 'public_url'}`, 'must be an http(s) URL');
  }
  return { ...cfg, wait: cfg.wait ?? true, timeoutMs: intOption('channels.discord.timeout_ms', cfg.timeoutMs, DEFAULT_TIMEOUT_MS, 100, 300_000) };
}

function fieldValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return truncate(s || '-', DISCORD_LIMITS.fieldValue);
}

function embedSize(e: DiscordEmbed): number {
  return e.title.length + e.description.length + e.footer.text.length + e.fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
}

/** Renders a notification as a webhook payload within every limit of DISCORD_LIMITS. */
export function renderDiscord(n: Notification, cfg: DiscordConfig = {}): DiscordPayload {
  const fields: DiscordEmbed['fields'] = [
    { name: 'Level', value: n.level, inline: true },
    { name: 'Task', value: fieldValue(n.task_id ?? '-'), inline: true },
    { name: 'Reasons', value: fieldValue(n.reasons.join(', ') || '-') },
  ];
  for (const [k, v] of Object.entries(n.context)) {
    if (fields.length >= DISCORD_LIMITS.fields) break;
    fields.push({ name: truncate(k, DISCORD_LIMITS.fieldName), value: fieldValue(v), inline: true });
  }
  const embed: DiscordEmbed = {
    title: truncate(n.title, DISCORD_LIMITS.title),
    description: truncate(n.message, DISCORD_LIMITS.description),
    color: DISCORD_COLORS[n.level],
    timestamp: n.timestamp,
    fields,
    footer: { text: truncate(`Vigil · intervention ${n.intervention_id} · delivery ${n.delivery_id}`, DISCORD_LIMITS.footer) },
  };
  const link = actionLink(cfg.publicUrl, n.action_url);
  if (link) embed.url = link;
  // All embeds together: 6000 characters. Drop context fields first, then shorten the description.
  while (embedSize(embed) > DISCORD_LIMITS.total && embed.fields.length > 3) embed.fields.pop();
  const over = embedSize(embed) - DISCORD_LIMITS.total;
  if (over > 0) embed.description = truncate(embed.description, Math.max(1, embed.description.length - over));
  const payload: DiscordPayload = { embeds: [embed], allowed_mentions: { parse: [] } };
  if (cfg.username) payload.username = cfg.username;
  if (cfg.avatarUrl) payload.avatar_url = cfg.avatarUrl;
  return payload;
}

function parseJson(body: string): Record<string, unknown> | undefined {
  // Most answers are an empty 204 (wait=false): no exception thrown and caught for each of them.
  if (body === '') return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads Discord's answer: 429 waits `retry_after` (float seconds) or Retry-After; 404 is a deleted webhook. */
export function classifyDiscord(res: HttpResponse, redactor: Redactor, nowMs: number): Omit<SendResult, 'durationMs'> {
  const json = parseJson(res.body);
  const base = classifyStatus(res.status, res.headers, nowMs);
  if (base.outcome === 'ok') {
    return typeof json?.id === 'string' ? { outcome: 'ok', status: res.status, providerId: json.id } : { outcome: 'ok', status: res.status };
  }
  const detail = json && typeof json.message === 'string' ? `${json.code !== undefined ? `Discord error ${String(json.code)}: ` : ''}${json.message}` : undefined;
  const error = describeAnswer(res, redactor, detail);
  if (res.status === 429) {
    const ra = typeof json?.retry_after === 'number' && json.retry_after >= 0 ? Math.ceil(json.retry_after * 1000) : base.retryAfterMs;
    const scope = json?.global === true ? ' (global rate limit)' : '';
    return { outcome: 'retryable', status: 429, error: error + scope, ...(ra !== undefined ? { retryAfterMs: ra } : {}) };
  }
  if (res.status === 404) return { outcome: 'permanent', status: 404, error: `${error} (the webhook was deleted)`, targetGone: true };
  return { ...base, status: res.status, error };
}

export class DiscordChannel extends HttpPostChannel<ReturnType<typeof validateDiscordConfig>> {
  readonly name = 'discord';

  constructor(config: DiscordConfig = {}, deps: ChannelDeps = {}) {
    super(validateDiscordConfig(config), deps);
  }

  protected build(n: Notification, target: ChannelTarget): JsonPost {
    const url = new URL(target.address);
    if (this.cfg.wait) url.searchParams.set('wait', 'true');
    return { url: url.href, body: JSON.stringify(renderDiscord(n, this.cfg)) };
  }

  protected classify(res: HttpResponse, redactor: Redactor): Omit<SendResult, 'durationMs'> {
    return classifyDiscord(res, redactor, this.now());
  }
}
