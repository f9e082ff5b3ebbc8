/** What the outbox needs to know of the configured channels: the channel objects and their targets. */
import type { Channel, ChannelTarget } from '../channels/channel.js';
import { DEFAULT_MAX_ATTEMPTS } from './backoff.js';

export interface NamedTarget extends ChannelTarget {
  /** Stable name of the target within its channel (stored in the outbox instead of the address). */
  name: string;
}

export interface ChannelDirectory {
  channel(name: string): Channel | undefined;
  /** The targets a notification on this channel goes to; empty when none is configured. */
  targets(channel: string): NamedTarget[];
  /** Attempts before a delivery on this channel is dead. */
  maxAttempts(channel: string): number;
  /** The channel a route falls back to when this channel's delivery is dead, if any. */
  fallback(route: string, channel: string): string | undefined;
}

/** A directory over a fixed set of channels and targets (the app builds one from its config). */
export class StaticDirectory implements ChannelDirectory {
  constructor(
    private readonly channels: ReadonlyMap<string, Channel>,
    private readonly targetMap: ReadonlyMap<string, NamedTarget[]>,
    private readonly opts: { maxAttempts?: Readonly<Record<string, number>>; fallbacks?: Readonly<Record<string, string>> } = {},
  ) {}

  channel(name: string): Channel | undefined {
    return this.channels.get(name);
  }

  targets(channel: string): NamedTarget[] {
    return this.targetMap.get(channel) ?? [];
  }

  maxAttempts(channel: string): number {
    return this.opts.maxAttempts?.[channel] ?? DEFAULT_MAX_ATTEMPTS;
  }

  /** Fallbacks keyed `route:channel` or just `channel`. */
  fallback(route: string, channel: string): string | undefined {
    return this.opts.fallbacks?.[`${route}:${channel}`] ?? this.opts.fallbacks?.[channel];
  }
}
