/**
 * The channels that reach people through Vigil itself, for the outbox's directory:
 *
 * - `websocket`: the live stream (target `all`: every authorised client);
 * - `in_app`: the inbox (target `all-users`: one row per user);
 * - `push`: the users' Web Push subscriptions (`platform: 'webpush'`), one target each.
 *
 * The map fits the outbox's `extra` channels (src/outbox/channelDirectory.ts ExtraChannel).
 * The directory is synchronous, subscriptions live in the database: they are kept in memory,
 * loaded before the first use and reloaded whenever any process's hub says they changed (and
 * at most PUSH_TARGETS_MAX_AGE_MS after the last load, as a backstop).
 */
import type { Channel } from '../channels/channel.js';
import { ALL_USERS, InAppChannel } from '../channels/inapp.js';
import { createPushChannel, type VapidKeys } from '../channels/push/index.js';
import { ALL_CLIENTS, WebSocketChannel } from '../channels/websocket.js';
import type { StreamHub } from '../http/stream/hub.js';
import type { NamedTarget } from '../outbox/directory.js';
import type { Store } from '../store/store.js';
import { deleteSubscriptionById, loadVapidKeys, pushTargets } from './pushSubscriptions.js';

export const PUSH_TARGETS_MAX_AGE_MS = 60_000;
/** RFC 8292 `sub` when the config names none. */
export const DEFAULT_VAPID_SUBJECT = 'mailto:vigil@localhost';

export interface InboxChannel {
  channel: Channel;
  /** The channel's targets now (synchronous; see above). */
  targets(): NamedTarget[];
  /** A provider said the target is gone for good (a push subscription answered 404/410). */
  onTargetGone?: (target: NamedTarget) => Promise<void>;
}

export interface InboxChannelsOptions {
  /** A push channel built from the config (FCM/APNs too); default: Web Push with the stored VAPID keys. */
  push?: Channel;
  /** VAPID keys from the config; default the ones stored in the database. */
  vapid?: VapidKeys;
  vapidSubject?: string;
}

/** The users' push subscriptions as targets, in memory. */
export class PushTargetCache {
  private snapshot: NamedTarget[] = [];
  private loadedAt = 0;
  private loading: Promise<void> | null = null;
  private again = false;

  constructor(private readonly store: Store) {}

  targets(): NamedTarget[] {
    if (Date.now() - this.loadedAt > PUSH_TARGETS_MAX_AGE_MS) void this.reload().catch(() => undefined);
    return this.snapshot;
  }

  /** Reloads (one load at a time; a change during a load triggers one more). */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.again = false;
          this.snapshot = await pushTargets(this.store);
          this.loadedAt = Date.now();
        } while (this.again);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** The push service said this subscription is gone (404/410): forget it. */
  async remove(target: NamedTarget): Promise<void> {
    const id = target.options?.subscription_id;
    if (typeof id !== 'string') return;
    await deleteSubscriptionById(this.store, id);
    this.snapshot = this.snapshot.filter((t) => t.name !== target.name);
  }

  async close(): Promise<void> {
    await this.loading?.catch(() => undefined);
  }
}

export class InboxChannels extends Map<string, InboxChannel> {
  constructor(
    readonly subscriptions: PushTargetCache,
    private readonly ownedPush: Channel | null,
    private readonly unsubscribe: () => void,
  ) {
    super();
  }

  /** For the outbox worker's onTargetGone: drops a dead push subscription. */
  async onTargetGone(channel: string, target: NamedTarget): Promise<void> {
    if (channel === 'push' && target.options?.subscription_id !== undefined) await this.subscriptions.remove(target);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.subscriptions.close();
    await this.ownedPush?.close?.();
  }
}

/** Builds the three channels and loads the push subscriptions. Close it after the outbox worker. */
export async function inboxChannels(store: Store, hub: StreamHub, opts: InboxChannelsOptions = {}): Promise<InboxChannels> {
  const cache = new PushTargetCache(store);
  const unsubscribe = hub.onMessage((m) => {
    if (m.kind === 'push_subscriptions_changed') void cache.reload().catch(() => undefined);
  });
  await cache.reload();
  let push = opts.push ?? null;
  let owned: Channel | null = null;
  if (push === null) {
    const vapid = await loadVapidKeys(store, opts.vapid);
    push = owned = createPushChannel({ webpush: { subject: opts.vapidSubject ?? DEFAULT_VAPID_SUBJECT, vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey } });
  }
  const out = new InboxChannels(cache, owned, unsubscribe);
  const ws: NamedTarget[] = [{ name: 'all', channel: 'websocket', address: ALL_CLIENTS }];
  const inApp: NamedTarget[] = [{ name: 'all-users', channel: 'in_app', address: ALL_USERS }];
  out.set('websocket', { channel: new WebSocketChannel(hub), targets: () => ws });
  out.set('in_app', { channel: new InAppChannel(store, hub), targets: () => inApp });
  out.set('push', { channel: push, targets: () => cache.targets(), onTargetGone: (t) => cache.remove(t) });
  return out;
}
