/**
 * The `push` channel: one Channel over three providers, picked by the target's platform
 * (`target.options.platform`: 'webpush' | 'fcm' | 'apns'). For Web Push the target's address is
 * the browser's subscription JSON `{endpoint, keys: {p256dh, auth}}`; for FCM and APNs it is the
 * device token. Every provider renders the original's payload (see payload.ts).
 */
import { performance } from 'node:perf_hooks';
import { systemClock, type Clock } from '../../util/clock.js';
import type { Channel, ChannelTarget, Notification, SendResult } from '../channel.js';
import { HttpClient, logResult, silentLogger, type ChannelDeps, type ChannelLogger } from '../http.js';
import { UrlGuard } from '../urlGuard.js';
import { ApnsProvider } from './apns.js';
import { resolvePushConfig, type PushConfig, type PushConfigInput } from './config.js';
import { FcmProvider } from './fcm.js';
import { redact } from './mask.js';
import { pushMessage, type PushMessage } from './payload.js';
import type { ProviderResult } from './results.js';
import { WebPushProvider } from './webpush.js';

export { generateVapidKeys, type VapidKeys } from './vapid.js';
export { PushConfigError, resolvePushConfig, DEFAULT_PUSH_TIMEOUT_MS, DEFAULT_PUSH_TTL_SECONDS } from './config.js';
export type { PushConfig, PushConfigInput } from './config.js';
export { renderPushPayload, type PushPayload } from './payload.js';

export const PUSH_PLATFORMS = ['webpush', 'fcm', 'apns'] as const;
export type PushPlatform = (typeof PUSH_PLATFORMS)[number];

/** The channels' usual dependencies, plus the clock token caches and VAPID expiry run on. */
export interface PushChannelDeps extends ChannelDeps {
  clock?: Clock;
}

interface Provider {
  send(msg: PushMessage, address: string, signal?: AbortSignal): Promise<ProviderResult>;
  mask(address: string): string;
}

/**
 * A target whose options carry a `subscription_id` is a Web Push subscription a user registered
 * through the API: its endpoint is whatever that user sent, so it is sent with a guard that ignores
 * `channels.allow_outbound` (the operator allow-lists addresses for the targets they configure, not
 * for anyone holding a user token).
 */
export function isUserSubscription(target: ChannelTarget): boolean {
  return target.options?.subscription_id !== undefined;
}

export class PushChannel implements Channel {
  readonly name = 'push';
  readonly webpush?: WebPushProvider;
  /** Web Push for users' own subscriptions: public addresses only, whatever the allow-list. */
  private readonly userWebpush?: WebPushProvider;
  private readonly strictHttp?: HttpClient;
  readonly fcm?: FcmProvider;
  readonly apns?: ApnsProvider;
  private readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private readonly logger: ChannelLogger;

  constructor(
    private readonly config: PushConfig,
    deps: PushChannelDeps = {},
  ) {
    const clock = deps.clock ?? (deps.now ? { now: deps.now } : systemClock);
    this.logger = deps.logger ?? silentLogger;
    const guard = deps.guard ?? deps.http?.guard ?? new UrlGuard();
    this.ownsHttp = !deps.http;
    this.http = deps.http ?? new HttpClient({ guard });
    if (config.webpush) {
      this.webpush = new WebPushProvider(config.webpush, this.http, clock, config.timeoutMs);
      this.strictHttp = new HttpClient({ guard: new UrlGuard() });
      this.userWebpush = new WebPushProvider(config.webpush, this.strictHttp, clock, config.timeoutMs);
    }
    if (config.fcm) this.fcm = new FcmProvider(config.fcm, this.http, clock, config.timeoutMs, this.logger);
    if (config.apns) this.apns = new ApnsProvider(config.apns, config.timeoutMs, clock, guard, this.logger);
  }

  async send(notification: Notification, target: ChannelTarget, signal?: AbortSignal): Promise<SendResult> {
    const started = performance.now();
    const platform = target.options?.platform;
    let result: ProviderResult;
    if (!isPlatform(platform)) {
      result = { outcome: 'permanent', status: 'BAD_TARGET', error: `target.options.platform must be one of ${PUSH_PLATFORMS.join(', ')}` };
    } else {
      const provider = platform === 'webpush' && isUserSubscription(target) ? this.userWebpush : this.provider(platform);
      if (!provider) {
        result = { outcome: 'permanent', status: 'NOT_CONFIGURED', error: `push platform ${platform} is not configured (push.${platform})` };
      } else {
        try {
          result = await provider.send(pushMessage(notification, this.config.ttlSeconds), target.address, signal);
        } catch (e) {
          // A bug, not a provider answer: retry (bounded by the outbox) rather than drop an alert.
          result = { outcome: 'retryable', status: 'INTERNAL_ERROR', error: redact(`push ${platform}: ${(e as Error).message}`, [target.address]) };
        }
      }
    }
    const out: SendResult = { ...result, durationMs: Math.round((performance.now() - started) * 10) / 10 };
    logResult(this.logger, 'push', this.mask(target), out);
    return out;
  }

  mask(target: ChannelTarget): string {
    const platform = target.options?.platform;
    const provider = isPlatform(platform) ? this.provider(platform) : undefined;
    return provider ? provider.mask(target.address) : 'push:****';
  }

  async close(): Promise<void> {
    await Promise.all([this.apns?.close(), this.strictHttp?.close(), this.ownsHttp ? this.http.close() : undefined]);
  }

  private provider(platform: PushPlatform): Provider | undefined {
    return platform === 'webpush' ? this.webpush : platform === 'fcm' ? this.fcm : this.apns;
  }
}

/** Validates `push:` (throws PushConfigError naming each bad option) and builds the channel. */
export function createPushChannel(input: PushConfigInput, deps: PushChannelDeps = {}): PushChannel {
  return new PushChannel(resolvePushConfig(input), deps);
}

function isPlatform(p: unknown): p is PushPlatform {
  return typeof p === 'string' && (PUSH_PLATFORMS as readonly string[]).includes(p);
}
