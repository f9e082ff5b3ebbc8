/**
 * The directory the server's outbox uses: the channels built from the config file and the
 * environment (src/channels/registry.ts), the push channel of `channels.push`, channels other
 * components register programmatically (`websocket`, `in_app`), and named receivers — one place
 * that answers "which channel object, which targets, how many attempts, which fallback", and masks
 * a stored target name for API answers.
 */
import type { Channel } from '../channels/channel.js';
import { ChannelConfigError, type ChannelLogger } from '../channels/http.js';
import { maskAddress } from '../channels/mask.js';
import { createPushChannel, PUSH_PLATFORMS, PushConfigError, type PushConfigInput } from '../channels/push/index.js';
import { buildChannels, type ChannelSet } from '../channels/registry.js';
import type { ChannelDirectory, NamedTarget } from './directory.js';
import { resolveDeliverySettings, type DeliverySettings } from './settings.js';

/** A channel another component provides (the WebSocket hub, the in-app inbox, push subscriptions). */
export interface ExtraChannel {
  channel: Channel;
  /** Its targets; a function when they change at run time (subscriptions, users). */
  targets: readonly NamedTarget[] | (() => readonly NamedTarget[]);
  /** Called when a provider says a target is gone for good: remove it where it is stored. */
  onTargetGone?: (target: NamedTarget) => void | Promise<void>;
}

/** The channel names of the default routing table, plus the webhook. */
export const BUILTIN_CHANNELS = ['email', 'slack', 'sms', 'websocket', 'push', 'discord', 'in_app', 'webhook'] as const;

export interface Entry {
  channel: Channel;
  targets: () => readonly NamedTarget[];
  onTargetGone?: (target: NamedTarget) => void | Promise<void>;
  /** The channel whose targets a receiver uses (itself otherwise). */
  kind: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** `channels.push` in snake_case (or camelCase) → the push channel's input; service-account JSON kept as is. */
function pushInput(v: Record<string, unknown>): { input: PushConfigInput; targets: NamedTarget[] } {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === 'targets') continue;
    if (['webpush', 'fcm', 'apns'].includes(k) && isObj(val)) {
      out[k] = Object.fromEntries(Object.entries(val).map(([kk, vv]) => [camel(kk), vv]));
    } else out[camel(k)] = val;
  }
  const list = v.targets ?? [];
  if (!Array.isArray(list)) throw new ChannelConfigError('channels.push.targets', 'must be a list of {name, address, platform}');
  const seen = new Set<string>();
  const targets = list.map((t: unknown, i): NamedTarget => {
    const o = isObj(t) ? t : {};
    const platform = o.platform ?? (isObj(o.options) ? o.options.platform : undefined);
    const address = typeof o.address === 'string' ? o.address : isObj(o.address) ? JSON.stringify(o.address) : undefined;
    if (address === undefined || typeof platform !== 'string' || !(PUSH_PLATFORMS as readonly string[]).includes(platform)) {
      throw new ChannelConfigError(`channels.push.targets[${i}]`, `must be {name, address, platform: ${PUSH_PLATFORMS.join(' | ')}}`);
    }
    const name = typeof o.name === 'string' ? o.name : `push-${i + 1}`;
    if (seen.has(name)) throw new ChannelConfigError('channels.push.targets', `two targets are named "${name}"`);
    seen.add(name);
    return { channel: 'push', name, address, options: { platform } };
  });
  return { input: out as PushConfigInput, targets };
}

export class AssembledDirectory implements ChannelDirectory {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly settings: DeliverySettings,
    /** What was built from the config and environment (closed with the directory). */
    private readonly owned: { close(): Promise<void> }[],
  ) {}

  add(name: string, e: Entry): void {
    this.entries.set(name, e);
  }

  entry(name: string): Entry | undefined {
    return this.entries.get(name);
  }

  /**
   * Adds a channel another component provides. It replaces a configured channel of the same name;
   * when it is that very channel object (the server's push subscriptions sent through the push
   * channel of `channels.push`), the configured targets are kept beside its own.
   */
  addExtra(name: string, x: ExtraChannel): void {
    const own = typeof x.targets === 'function' ? x.targets : () => x.targets as readonly NamedTarget[];
    const cur = this.entries.get(name);
    const targets = cur && cur.channel === x.channel ? () => [...cur.targets(), ...own()] : own;
    this.entries.set(name, { channel: x.channel, targets, onTargetGone: x.onTargetGone, kind: name });
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  channel(name: string): Channel | undefined {
    return this.entries.get(name)?.channel;
  }

  targets(channel: string): NamedTarget[] {
    const e = this.entries.get(channel);
    return e ? [...e.targets()] : [];
  }

  maxAttempts(channel: string): number {
    return this.settings.max_attempts.per_channel[channel] ?? this.settings.max_attempts.default;
  }

  fallback(route: string, channel: string): string | undefined {
    return this.settings.fallbacks[`${route}:${channel}`] ?? this.settings.fallbacks[channel];
  }

  /** The stored target name of a delivery, masked for API answers; never the address itself. */
  maskTarget(channel: string, name: string): string {
    const e = this.entries.get(channel);
    const t = e?.targets().find((x) => x.name === name);
    if (!e || !t) return '(not configured)';
    try {
      return e.channel.mask(t);
    } catch {
      return maskAddress(t.address);
    }
  }

  /** Where a gone target is removed, if anywhere. */
  goneHandler(channel: string): ((t: NamedTarget) => void | Promise<void>) | undefined {
    return this.entries.get(channel)?.onTargetGone;
  }

  /** A masked line per channel and target, for logs and the CLI. */
  summary(): { channel: string; name: string; target: string }[] {
    return [...this.entries.entries()].flatMap(([c, e]) => e.targets().map((t) => ({ channel: c, name: t.name, target: this.maskTarget(c, t.name) })));
  }

  /** Closes the channels built from the config; extra channels belong to whoever registered them. */
  async close(): Promise<void> {
    for (const o of this.owned) await o.close();
  }
}

export interface DirectoryInput {
  /** The config file's sections (`channels` is read from it). */
  sections: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  /** Channels registered programmatically; they replace a configured channel of the same name. */
  extra?: ReadonlyMap<string, ExtraChannel>;
  logger?: ChannelLogger;
}

/**
 * Builds every configured channel and the directory over them. Throws ChannelConfigError (or
 * PushConfigError) naming the first invalid option, never its value.
 */
export function buildDirectory(input: DirectoryInput): AssembledDirectory {
  const section = input.sections.channels;
  const channelsSection = isObj(section) ? section : {};
  const settings = resolveDeliverySettings(section);
  const set: ChannelSet = buildChannels({ file: channelsSection, env: input.env }, { logger: input.logger });
  const owned: { close(): Promise<void> }[] = [set];
  const dir = new AssembledDirectory(settings, owned);
  try {
    const byChannel = set.targetsByChannel();
    for (const [name, channel] of set.channels) {
      const targets = byChannel.get(name) ?? [];
      dir.add(name, { channel, targets: () => targets, kind: name });
    }
    const push = channelsSection.push;
    if (isObj(push)) {
      const { input: pin, targets } = pushInput(push);
      // The shared client: push endpoints obey `allow_outbound` like every other channel.
      const channel = createPushChannel(pin, { logger: input.logger, http: set.http });
      // Closed before the shared client it uses.
      owned.unshift({ close: () => channel.close() });
      dir.add('push', { channel, targets: () => targets, kind: 'push' });
    }
    for (const [name, x] of input.extra ?? []) dir.addExtra(name, x);
    for (const [name, r] of Object.entries(settings.receivers)) {
      const base = dir.entry(r.channel);
      if (!base) throw new ChannelConfigError(`channels.receivers.${name}.channel`, `no channel "${r.channel}" is configured`);
      const want = r.targets;
      if (want) {
        const known = new Set(base.targets().map((t) => t.name));
        for (const t of want) if (!known.has(t)) throw new ChannelConfigError(`channels.receivers.${name}.targets`, `channel ${r.channel} has no target named "${t}"`);
      }
      dir.add(name, {
        channel: base.channel,
        targets: () => base.targets().filter((t) => !want || want.includes(t.name)),
        onTargetGone: base.onTargetGone,
        kind: r.channel,
      });
    }
    for (const [k, v] of Object.entries(settings.fallbacks)) {
      if (!dir.channel(v) && !(BUILTIN_CHANNELS as readonly string[]).includes(v)) {
        throw new ChannelConfigError(`channels.fallbacks.${k}`, `no channel "${v}" is configured`);
      }
    }
  } catch (err) {
    void Promise.all(owned.map((o) => o.close()));
    if (err instanceof PushConfigError) throw new ChannelConfigError('channels.push', err.message);
    throw err;
  }
  return dir;
}
