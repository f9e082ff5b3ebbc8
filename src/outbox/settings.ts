/**
 * The outbox's own options, read from the config file: the `worker:` section (does `vigil serve`
 * run a worker, how many sends at once, how often it looks), and in `channels:` the attempts
 * budget, the fallbacks and the named receivers (a channel name routes can use that sends to some
 * targets of a channel, e.g. `finance_webhook` → the webhook channel's `finance` target).
 * Every problem is named by its path; nothing here is secret.
 */
import { ChannelConfigError } from '../channels/http.js';
import { DEFAULT_MAX_ATTEMPTS } from './backoff.js';
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_LEASE_MS,
  DEFAULT_PER_CHANNEL_CONCURRENCY,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_SEND_TIMEOUT_MS,
  DEFAULT_UNHEALTHY_AFTER,
} from './worker.js';

/** `worker:` of the config file. */
export interface WorkerSettings {
  /** `vigil serve` runs a worker in its process (default true). `vigil worker` ignores it. */
  enabled: boolean;
  concurrency: number;
  per_channel_concurrency: number;
  poll_interval_ms: number;
  lease_ms: number;
  send_timeout_ms: number;
  /** Consecutive failed attempts of a channel before it opens a CHANNEL_FAILING intervention; 0: never. */
  unhealthy_after: number;
}

export const DEFAULT_WORKER_SETTINGS: Readonly<WorkerSettings> = Object.freeze({
  enabled: true,
  concurrency: DEFAULT_CONCURRENCY,
  per_channel_concurrency: DEFAULT_PER_CHANNEL_CONCURRENCY,
  poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
  lease_ms: DEFAULT_LEASE_MS,
  send_timeout_ms: DEFAULT_SEND_TIMEOUT_MS,
  unhealthy_after: DEFAULT_UNHEALTHY_AFTER,
});

const LIMITS: Record<Exclude<keyof WorkerSettings, 'enabled'>, [number, number]> = {
  concurrency: [1, 10_000],
  per_channel_concurrency: [1, 10_000],
  poll_interval_ms: [10, 600_000],
  lease_ms: [1_000, 86_400_000],
  send_timeout_ms: [100, 600_000],
  unhealthy_after: [0, 10_000],
};

/** A receiver: a name routes use, sending through `channel` to some of its targets (all when absent). */
export interface ReceiverSettings {
  channel: string;
  targets?: string[];
}

export interface DeliverySettings {
  /** Attempts before a delivery is dead: `default` and per channel. */
  max_attempts: { default: number; per_channel: Record<string, number> };
  /** Fallback channel, keyed by channel or `route:channel`. */
  fallbacks: Record<string, string>;
  receivers: Record<string, ReceiverSettings>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const NAME = /^[a-z][a-z0-9_:-]{0,63}$/;

function int(path: string, v: unknown, [min, max]: [number, number]): number {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new ChannelConfigError(path, `must be a whole number from ${min} to ${max}`);
  return n;
}

/** Reads `worker:`; the environment's VIGIL_WORKER_ENABLED and VIGIL_WORKER_CONCURRENCY override it. */
export function resolveWorkerSettings(section: unknown, env: NodeJS.ProcessEnv = {}): WorkerSettings {
  const out: WorkerSettings = { ...DEFAULT_WORKER_SETTINGS };
  if (section !== undefined && section !== null) {
    if (!isObj(section)) throw new ChannelConfigError('worker', 'must be a mapping');
    for (const [k, v] of Object.entries(section)) {
      if (k === 'enabled') {
        if (typeof v !== 'boolean') throw new ChannelConfigError('worker.enabled', 'must be true or false');
        out.enabled = v;
      } else if (k in LIMITS) {
        const key = k as keyof typeof LIMITS;
        out[key] = int(`worker.${k}`, v, LIMITS[key]);
      } else {
        throw new ChannelConfigError(`worker.${k}`, `is not an option (known: enabled, ${Object.keys(LIMITS).join(', ')})`);
      }
    }
  }
  const enabled = env.VIGIL_WORKER_ENABLED;
  if (enabled !== undefined && enabled !== '') {
    if (!/^(true|false|1|0)$/.test(enabled)) throw new ChannelConfigError('VIGIL_WORKER_ENABLED', 'must be true or false');
    out.enabled = enabled === 'true' || enabled === '1';
  }
  if (env.VIGIL_WORKER_CONCURRENCY) out.concurrency = int('VIGIL_WORKER_CONCURRENCY', env.VIGIL_WORKER_CONCURRENCY, LIMITS.concurrency);
  return out;
}

/** Reads `channels.max_attempts`, `channels.fallbacks` and `channels.receivers`. */
export function resolveDeliverySettings(channels: unknown): DeliverySettings {
  const out: DeliverySettings = { max_attempts: { default: DEFAULT_MAX_ATTEMPTS, per_channel: {} }, fallbacks: {}, receivers: {} };
  if (channels === undefined || channels === null) return out;
  if (!isObj(channels)) throw new ChannelConfigError('channels', 'must be a mapping');
  const ma = channels.max_attempts ?? channels.maxAttempts;
  if (isObj(ma)) {
    for (const [k, v] of Object.entries(ma)) {
      const n = int(`channels.max_attempts.${k}`, v, [1, 1_000]);
      if (k === 'default') out.max_attempts.default = n;
      else out.max_attempts.per_channel[k] = n;
    }
  } else if (ma !== undefined) {
    out.max_attempts.default = int('channels.max_attempts', ma, [1, 1_000]);
  }
  const fb = channels.fallbacks;
  if (fb !== undefined) {
    if (!isObj(fb)) throw new ChannelConfigError('channels.fallbacks', 'must map a channel (or route:channel) to its fallback channel');
    for (const [k, v] of Object.entries(fb)) {
      if (typeof v !== 'string' || !NAME.test(v)) throw new ChannelConfigError(`channels.fallbacks.${k}`, 'must be a channel name');
      if (v === k || k.endsWith(`:${v}`)) throw new ChannelConfigError(`channels.fallbacks.${k}`, 'cannot fall back to itself');
      out.fallbacks[k] = v;
    }
  }
  const rc = channels.receivers;
  if (rc !== undefined) {
    if (!isObj(rc)) throw new ChannelConfigError('channels.receivers', 'must map a receiver name to {channel, targets}');
    for (const [name, v] of Object.entries(rc)) {
      const path = `channels.receivers.${name}`;
      if (!NAME.test(name)) throw new ChannelConfigError(path, 'the name must be lower-case letters, digits, _ : - (as routes name channels)');
      if (!isObj(v) || typeof v.channel !== 'string') throw new ChannelConfigError(path, 'must be {channel, targets}');
      const targets = v.targets;
      if (targets !== undefined && (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string'))) throw new ChannelConfigError(`${path}.targets`, 'must be a list of target names');
      out.receivers[name] = { channel: v.channel, ...(targets ? { targets: targets as string[] } : {}) };
    }
  }
  return out;
}
