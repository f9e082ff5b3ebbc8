/**
 * What the outbox does when a channel keeps failing or a target is gone.
 *
 * - A failing channel opens its own intervention: source `channel:<name>`, reason CHANNEL_FAILING,
 *   level URGENT, dedupe key `channel:<name>` (one open intervention per channel, however many
 *   workers report it). It is routed by the routing table with the failing channel taken out of
 *   every route, and its context names the channel in `exclude_channels`, which the OutboxRecorder
 *   honours, so repeats and escalations never go to the failing channel either.
 * - A gone target is removed where Vigil stores it (a component's handler; Web Push subscriptions
 *   in `push_subscriptions`); a target from the config file cannot be removed: that is logged, with
 *   the target masked, and counted.
 */
import type { Logger } from 'pino';
import type { DeliveryRecorder } from '../interventions/deliveries.js';
import { trigger, type TriggerOutcome } from '../interventions/lifecycle.js';
import type { Route } from '../interventions/routing.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { AssembledDirectory } from './channelDirectory.js';
import type { NamedTarget } from './directory.js';
import type { OutboxMetrics } from './metrics.js';
import { EXCLUDE_CHANNELS_KEY } from './recorder.js';

export const CHANNEL_FAILING = 'CHANNEL_FAILING';

export interface ChannelHealthDeps {
  store: Store;
  recorder: DeliveryRecorder;
  routes: () => readonly Route[];
  clock: Clock;
  log: Logger;
}

/** The routing table without `channel`; routes left with no channel are dropped. */
export function routesWithout(routes: readonly Route[], channel: string): Route[] {
  return routes.map((r) => ({ ...r, channels: r.channels.filter((c) => c !== channel) })).filter((r) => r.channels.length > 0);
}

export async function openChannelFailing(deps: ChannelHealthDeps, channel: string, detail: { consecutive_failures: number; last_error: string }): Promise<TriggerOutcome> {
  const now = deps.clock.now();
  const routes = routesWithout(deps.routes(), channel);
  const log = deps.log.child({ stage: 'notify' });
  const outcome = await deps.store.transaction((tx) =>
    trigger(
      tx,
      { recorder: deps.recorder, routes: () => routes, log },
      {
        dedupe_key: `channel:${channel}`,
        task_id: null,
        level: 'URGENT',
        reasons: [{ code: CHANNEL_FAILING, level: 'URGENT', detail: `${detail.consecutive_failures} attempts in a row failed` }],
        title: `Notification channel ${channel} keeps failing`,
        message: `The last ${detail.consecutive_failures} delivery attempts on ${channel} failed. Last error: ${detail.last_error || 'none given'}`,
        context: { channel, consecutive_failures: detail.consecutive_failures, last_error: detail.last_error, [EXCLUDE_CHANNELS_KEY]: [channel] },
        source: `channel:${channel}`,
      },
      now,
    ),
  );
  deps.log.warn({ channel, intervention: outcome.intervention.id, created: outcome.created, channels: outcome.decision.channels }, 'channel failing: intervention opened');
  return outcome;
}

/** Removes a Web Push subscription by its endpoint; false when none is stored (or no such table). */
async function removePushSubscription(store: Store, target: NamedTarget): Promise<boolean> {
  if (target.options?.platform !== 'webpush') return false;
  let endpoint: unknown;
  try {
    endpoint = (JSON.parse(target.address) as { endpoint?: unknown }).endpoint;
  } catch {
    return false;
  }
  if (typeof endpoint !== 'string') return false;
  const { rows } = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE tablename = 'push_subscriptions'`);
  if (Number(rows[0]?.n ?? 0) === 0) return false;
  const r = await store.query('DELETE FROM push_subscriptions WHERE endpoint = $1', [endpoint]);
  return r.rowCount > 0;
}

export function targetGoneHandler(deps: { store: Store; directory: AssembledDirectory; metrics?: OutboxMetrics; log: Logger }) {
  return async (channel: string, target: NamedTarget): Promise<void> => {
    const masked = deps.directory.maskTarget(channel, target.name);
    let removed = false;
    try {
      const handler = deps.directory.goneHandler(channel);
      if (handler) {
        await handler(target);
        removed = true;
      } else if (channel === 'push' || target.channel === 'push') {
        removed = await removePushSubscription(deps.store, target);
      }
    } catch (err) {
      deps.log.warn({ channel, target: masked, err: { message: (err as Error).message } }, 'removing a gone target failed');
    }
    deps.metrics?.targetsGone.inc({ channel, removed: String(removed) });
    if (removed) deps.log.info({ channel, target: masked }, 'target gone (the provider said so): removed');
    else deps.log.warn({ channel, target: target.name, masked }, 'target gone (the provider said so); it comes from the configuration: remove it there');
  };
}
