/**
 * Builds the channels and their targets from the config file's `channels` section and from
 * environment variables; an environment variable overrides the file's value for the same option.
 * A channel exists when it has at least one target; its configuration is validated then, and an
 * error names the option or variable at fault (never its value).
 *
 * Environment variables (comma-separated where a list is expected):
 *   VIGIL_OUTBOUND_ALLOW          allow-list of hosts, IPs, CIDRs the URL guard lets through
 *   VIGIL_PUBLIC_URL              dashboard base URL for links in messages
 *   VIGIL_CHANNEL_TIMEOUT_MS      whole-request timeout of every channel (ms)
 *   DISCORD_WEBHOOK_URL           Discord webhook URL(s)
 *   SLACK_WEBHOOK_URL             Slack incoming-webhook URL(s)
 *   SMTP_URL                      smtp://user:pass@host:port (STARTTLS) or smtps://… (implicit TLS), ?starttls=required|opportunistic|never
 *   SMTP_FROM                     sender address
 *   ALERT_EMAIL_TO                recipient address(es)
 *   TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER, TWILIO_MESSAGING_SERVICE_SID, TWILIO_API_BASE
 *   ALERT_SMS_TO                  recipient number(s), E.164
 *   SMS_MAX_SEGMENTS              segment budget per SMS (1–10)
 *   WEBHOOK_URL                   webhook endpoint(s)
 *   WEBHOOK_SECRET                Standard Webhooks signing secret, whsec_…
 */
import type { Channel, ChannelTarget } from './channel.js';
import { DiscordChannel, type DiscordConfig } from './discord.js';
import { EmailChannel, parseSmtpUrl, type EmailConfig } from './email.js';
import { ChannelConfigError, HttpClient, type ChannelLogger } from './http.js';
import { INTERVENTION_LEVELS, type InterventionLevelName } from './levels.js';
import { maskAddress } from './mask.js';
import { SlackChannel, type SlackConfig } from './slack.js';
import { SmsChannel, type SmsConfig } from './sms.js';
import { UrlGuard } from './urlGuard.js';
import { WebhookChannel, type WebhookConfig } from './webhook.js';

export type ChannelName = 'email' | 'slack' | 'discord' | 'sms' | 'webhook';

/** The levels each channel gets by default: the original's choices. */
export const DEFAULT_LEVELS: Record<ChannelName, readonly InterventionLevelName[]> = {
  email: ['URGENT', 'CRITICAL'],
  slack: INTERVENTION_LEVELS,
  sms: ['CRITICAL'],
  discord: INTERVENTION_LEVELS,
  webhook: INTERVENTION_LEVELS,
};

interface Targeted {
  /** Levels sent to this channel's targets. Default: DEFAULT_LEVELS. */
  levels?: InterventionLevelName[];
}

/** A target as written in the file: the address, or `{name, url}` / `{name, address}` to keep its name stable. */
export type TargetEntry = string | { name?: string; url?: string; address?: string };

/** A target with a name that is stable within its channel (the outbox stores it instead of the address). */
export interface RegisteredTarget extends ChannelTarget {
  name: string;
}

/**
 * The `channels` section of the config file, read into camelCase (the file itself is written in
 * snake_case like the rest of the config: `webhook_urls`, `timeout_ms`, `max_segments`; camelCase
 * keys are accepted too).
 */
export interface ChannelsConfig {
  /** Hosts, IPs and CIDRs outbound calls may reach although not public (e.g. `127.0.0.1`, `10.0.0.0/8`). */
  allowOutbound?: string[];
  /** Dashboard base URL, for links in messages. */
  publicUrl?: string;
  /** Default whole-request timeout (ms) of every channel. */
  timeoutMs?: number;
  discord?: DiscordConfig & Targeted & { webhookUrls?: TargetEntry[] };
  slack?: SlackConfig & Targeted & { webhookUrls?: TargetEntry[] };
  email?: EmailConfig & Targeted & { url?: string; to?: TargetEntry[] };
  sms?: SmsConfig & Targeted & { to?: TargetEntry[] };
  webhook?: WebhookConfig & Targeted & { urls?: TargetEntry[] };
}

export interface ChannelSet {
  channels: Map<ChannelName, Channel>;
  targets: RegisteredTarget[];
  /** The HTTP client (and URL guard, with `allow_outbound`) every HTTP channel shares; closed by close(). */
  http: HttpClient;
  /** The targets of each channel, for the outbox's directory. */
  targetsByChannel(): Map<string, RegisteredTarget[]>;
  /** Each target masked, with its levels: safe for logs, the CLI and API answers. */
  summary(): { channel: string; name: string; target: string; levels: unknown }[];
  close(): Promise<void>;
}

/** The environment variable behind an option, named in configuration errors. */
const ENV_HINTS: Record<string, string> = {
  'channels.discord.webhook_urls': 'DISCORD_WEBHOOK_URL',
  'channels.slack.webhook_urls': 'SLACK_WEBHOOK_URL',
  'channels.webhook.urls': 'WEBHOOK_URL',
  'channels.email.to': 'ALERT_EMAIL_TO',
  'channels.sms.to': 'ALERT_SMS_TO',
  'channels.webhook.secret': 'WEBHOOK_SECRET',
  'channels.email.host': 'SMTP_URL',
  'channels.email.port': 'SMTP_URL',
  'channels.email.pass': 'SMTP_URL',
  'channels.email.starttls': 'SMTP_URL',
  'channels.email.from': 'SMTP_FROM',
  'channels.sms.max_segments': 'SMS_MAX_SEGMENTS',
  'channels.sms.api_base': 'TWILIO_API_BASE',
  'channels.sms.messaging_service_sid': 'TWILIO_MESSAGING_SERVICE_SID',
  'channels.sms.from': 'TWILIO_PHONE_NUMBER',
};

function list(v: string | undefined): string[] | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function int(v: string | undefined): number | undefined {
  return v === undefined || v.trim() === '' ? undefined : Number(v);
}

/** Drops undefined values, so that `{...file, ...fromEnv}` lets only set variables override. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function strings(option: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ChannelConfigError(option, 'must be a list of strings');
  return v;
}

function levels(option: string, v: unknown, def: readonly InterventionLevelName[]): InterventionLevelName[] {
  if (v === undefined) return [...def];
  const l = strings(option, v);
  for (const x of l) if (!(INTERVENTION_LEVELS as readonly string[]).includes(x)) throw new ChannelConfigError(option, `unknown level "${x}" (use ${INTERVENTION_LEVELS.join(', ')})`);
  return l as InterventionLevelName[];
}

/** `webhook_urls` → `webhookUrls`, for the keys of one mapping (not inside it: `secrets` keys are names). */
function camelKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
}

function section<T>(file: Record<string, unknown>, name: string): T {
  const v = file[name];
  if (v === undefined || v === null) return {} as T;
  if (typeof v !== 'object' || Array.isArray(v)) throw new ChannelConfigError(`channels.${name}`, 'must be a mapping');
  return camelKeys(v as Record<string, unknown>) as T;
}

/** Reads a target list: addresses, or `{name, url}` / `{name, address}` entries. */
function entries(option: string, v: unknown): { name?: string; address: string; secretName?: string }[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ChannelConfigError(option, 'must be a list of addresses or {name, url} entries');
  return v.map((e: unknown, i) => {
    if (typeof e === 'string') return { address: e };
    const o = (e ?? {}) as Record<string, unknown>;
    const address = o.url ?? o.address;
    if (typeof address !== 'string' || (o.name !== undefined && (typeof o.name !== 'string' || !/^[\w.-]{1,64}$/.test(o.name)))) {
      throw new ChannelConfigError(`${option}[${i}]`, 'must be an address or {name, url}, the name made of letters, digits, _ . - (at most 64)');
    }
    const secretName = o.secret_name ?? o.secretName;
    if (secretName !== undefined && typeof secretName !== 'string') throw new ChannelConfigError(`${option}[${i}].secret_name`, 'must be a name from channels.webhook.secrets');
    return { name: o.name as string | undefined, address, ...(secretName ? { secretName } : {}) };
  });
}

/** Merges the file's `channels` section with the environment (the environment wins). */
export function resolveChannelsConfig(file: object | undefined, env: NodeJS.ProcessEnv): ChannelsConfig {
  const root = (file ?? {}) as Record<string, unknown>;
  const f = camelKeys((root.channels && typeof root.channels === 'object' ? root.channels : root) as Record<string, unknown>);
  const fileEmail = section<NonNullable<ChannelsConfig['email']>>(f, 'email');
  const smtpUrl = env.SMTP_URL || fileEmail.url;
  return {
    allowOutbound: list(env.VIGIL_OUTBOUND_ALLOW) ?? strings('channels.allow_outbound', f.allowOutbound),
    publicUrl: env.VIGIL_PUBLIC_URL || (f.publicUrl as string | undefined),
    timeoutMs: int(env.VIGIL_CHANNEL_TIMEOUT_MS) ?? (f.timeoutMs as number | undefined),
    discord: { ...section(f, 'discord'), ...defined({ webhookUrls: list(env.DISCORD_WEBHOOK_URL) }) },
    slack: { ...section(f, 'slack'), ...defined({ webhookUrls: list(env.SLACK_WEBHOOK_URL) }) },
    email: {
      ...fileEmail,
      ...(smtpUrl ? defined(parseSmtpUrl(smtpUrl)) : {}),
      ...defined({ from: env.SMTP_FROM || undefined, to: list(env.ALERT_EMAIL_TO) }),
    },
    sms: {
      ...section(f, 'sms'),
      ...defined({
        accountSid: env.TWILIO_ACCOUNT_SID || undefined,
        authToken: env.TWILIO_AUTH_TOKEN || undefined,
        from: env.TWILIO_PHONE_NUMBER || undefined,
        messagingServiceSid: env.TWILIO_MESSAGING_SERVICE_SID || undefined,
        apiBase: env.TWILIO_API_BASE || undefined,
        maxSegments: int(env.SMS_MAX_SEGMENTS),
        to: list(env.ALERT_SMS_TO),
      }),
    },
    webhook: { ...section(f, 'webhook'), ...defined({ urls: list(env.WEBHOOK_URL), secret: env.WEBHOOK_SECRET || undefined }) },
  };
}

/**
 * Builds every channel that has targets, sharing one URL guard and one HTTP client.
 * Throws ChannelConfigError for the first invalid option.
 */
export function buildChannels(input: { file?: object; env: NodeJS.ProcessEnv }, deps: { logger?: ChannelLogger; now?: () => number } = {}): ChannelSet {
  const cfg = resolveChannelsConfig(input.file, input.env);
  if (cfg.timeoutMs !== undefined) {
    const t = cfg.timeoutMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 100 || t > 300_000) {
      throw new ChannelConfigError('channels.timeout_ms', 'must be a whole number from 100 to 300000 (environment: VIGIL_CHANNEL_TIMEOUT_MS)');
    }
  }
  const guard = new UrlGuard({ allow: cfg.allowOutbound });
  const http = new HttpClient({ guard });
  const shared = { http, guard, logger: deps.logger, now: deps.now };
  const common = { ...defined({ publicUrl: cfg.publicUrl, timeoutMs: cfg.timeoutMs }) };
  const channels = new Map<ChannelName, Channel>();
  const targets: RegisteredTarget[] = [];
  const add = (name: ChannelName, list: ReturnType<typeof entries>, lv: unknown, make: () => Channel): void => {
    if (list.length === 0) return;
    const l = levels(`channels.${name}.levels`, lv, DEFAULT_LEVELS[name]);
    channels.set(name, make());
    const seen = new Set<string>();
    list.forEach((t, i) => {
      // Unnamed targets are named by position: `slack-1`, `slack-2`. Name them to keep names stable when the list changes.
      const tname = t.name ?? `${name}-${i + 1}`;
      if (seen.has(tname)) throw new ChannelConfigError(`channels.${name}`, `two targets are named "${tname}"`);
      seen.add(tname);
      targets.push({ channel: name, name: tname, address: t.address, options: { levels: l, ...(t.secretName ? { secretName: t.secretName } : {}) } });
    });
  };

  try {
    const { webhookUrls: dUrls, levels: dLv, ...discord } = cfg.discord ?? {};
    add('discord', entries('channels.discord.webhook_urls', dUrls), dLv, () => new DiscordChannel({ ...common, ...discord }, shared));
    const { webhookUrls: sUrls, levels: sLv, ...slack } = cfg.slack ?? {};
    add('slack', entries('channels.slack.webhook_urls', sUrls), sLv, () => new SlackChannel({ ...common, ...slack }, shared));
    const { to: eTo, levels: eLv, url: _url, ...email } = cfg.email ?? {};
    add('email', entries('channels.email.to', eTo), eLv, () => new EmailChannel({ ...defined({ publicUrl: cfg.publicUrl }), ...email }, shared));
    const { to: smsTo, levels: smsLv, ...sms } = cfg.sms ?? {};
    add('sms', entries('channels.sms.to', smsTo), smsLv, () => new SmsChannel({ ...defined({ timeoutMs: cfg.timeoutMs }), ...sms }, { ...shared, env: {} }));
    const { urls: wUrls, levels: wLv, ...webhook } = cfg.webhook ?? {};
    add('webhook', entries('channels.webhook.urls', wUrls), wLv, () => new WebhookChannel({ ...defined({ timeoutMs: cfg.timeoutMs }), ...webhook }, shared));
  } catch (err) {
    void http.close();
    if (err instanceof ChannelConfigError) {
      const hint = ENV_HINTS[err.option];
      if (hint && !err.message.includes(hint)) throw new ChannelConfigError(err.option, `${err.message.slice(err.option.length + 2)} (environment: ${hint})`);
    }
    throw err;
  }

  return {
    channels,
    targets,
    http,
    targetsByChannel: () => {
      const m = new Map<string, RegisteredTarget[]>();
      for (const t of targets) m.set(t.channel, [...(m.get(t.channel) ?? []), t]);
      return m;
    },
    summary: () => targets.map((t) => ({ channel: t.channel, name: t.name, target: channels.get(t.channel as ChannelName)?.mask(t) ?? maskAddress(t.address), levels: t.options?.levels })),
    close: async () => {
      for (const c of channels.values()) await c.close?.();
      await http.close();
    },
  };
}
