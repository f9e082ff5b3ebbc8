/**
 * The durable DeliveryRecorder: routing's deliveries become outbox rows, one per channel target,
 * inserted in the transaction that changed the intervention.
 */
import { uuidv7 } from '../events/uuid7.js';
import type { Delivery, DeliveryRecorder, DeliveryView } from '../interventions/deliveries.js';
import type { Queryable } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { ChannelDirectory } from './directory.js';
import { insertDeliveries, listDeliveries, type NewDelivery } from './sql.js';

/** The second wake after record(), once the caller's commit has most likely landed. */
const WAKE_AGAIN_MS = 20;

/**
 * Notified (no payload) in the transactions that queue deliveries on PostgreSQL: each process's
 * stream relay listens and wakes its worker, so a `vigil worker` sends what a server queued at
 * once rather than at its next poll.
 */
export const OUTBOX_CHANNEL = 'vigil_outbox';

/** The context key naming channels an intervention is not sent to (a failing channel's own alert). */
export const EXCLUDE_CHANNELS_KEY = 'exclude_channels';

export interface RecorderOptions {
  /**
   * Channel names routing may name that are simply not set up here (the default table's `sms` with
   * no Twilio account): no row is written for them. Any other unknown channel is recorded dead.
   */
  optional?: Iterable<string>;
  /**
   * Notify `vigil_outbox` in the recording transaction (PostgreSQL): the workers of other
   * processes, listening, look at once when it commits.
   */
  notify?: boolean;
}

export class OutboxRecorder implements DeliveryRecorder {
  private readonly optional: Set<string>;
  private readonly notify: boolean;

  constructor(
    private readonly directory: ChannelDirectory,
    private readonly clock: Clock,
    /** Called after record(): lets an in-process worker look at once instead of at its next poll. */
    private readonly wake: () => void = () => undefined,
    opts: RecorderOptions = {},
  ) {
    this.optional = new Set(opts.optional ?? []);
    this.notify = opts.notify ?? false;
  }

  /** The outbox rows for routed deliveries (exported for `vigil notify test` and fallbacks). */
  expand(deliveries: readonly Delivery[]): NewDelivery[] {
    const rows: NewDelivery[] = [];
    for (const d of deliveries) {
      const excluded = d.notification.context?.[EXCLUDE_CHANNELS_KEY];
      if (Array.isArray(excluded) && excluded.includes(d.channel)) continue;
      if (!this.directory.channel(d.channel) && this.optional.has(d.channel)) continue;
      const base = {
        intervention_id: d.intervention_id,
        channel: d.channel,
        route: d.route,
        reason: d.why,
        level: d.notification.level,
        notification: d.notification,
        max_attempts: this.directory.maxAttempts(d.channel),
        fallback_channel: this.directory.fallback(d.route, d.channel) ?? null,
        fallback_of: null,
      };
      const all = this.directory.channel(d.channel) ? this.directory.targets(d.channel) : [];
      // A target configured for some levels only (`levels:` in the config) is skipped for the others.
      const targets = all.filter((t) => {
        const lv = t.options?.levels;
        return !Array.isArray(lv) || lv.includes(d.notification.level);
      });
      if (all.length > 0 && targets.length === 0) continue;
      // A default-table channel with no target right now (push before any user subscribed) is
      // not a misconfiguration: nothing to send to, no row.
      if (all.length === 0 && this.optional.has(d.channel)) continue;
      if (targets.length === 0) {
        // Recorded, not silently dropped: a misconfiguration shows in the deliveries list.
        const why = this.directory.channel(d.channel) ? `no target is configured for channel ${d.channel}` : `channel ${d.channel} is not configured`;
        rows.push({ ...base, id: d.id, target: '(none)', dead_error: why });
        continue;
      }
      targets.forEach((t, i) => rows.push({ ...base, id: i === 0 ? d.id : uuidv7(), target: t.name }));
    }
    return rows;
  }

  async record(tx: Queryable, deliveries: readonly Delivery[]): Promise<void> {
    const rows = this.expand(deliveries);
    await insertDeliveries(tx, rows, this.clock.now());
    if (this.notify && rows.some((r) => r.dead_error === undefined)) await tx.query(`NOTIFY ${OUTBOX_CHANNEL}`);
    // The worker may look before the transaction commits, so it is woken again a moment later
    // (a commit takes a round trip); failing both, it looks at its next poll.
    queueMicrotask(this.wake);
    setTimeout(this.wake, WAKE_AGAIN_MS).unref();
  }

  async list(db: Queryable, interventionId: string): Promise<DeliveryView[]> {
    const rows = await listDeliveries(db, { intervention_id: interventionId, limit: 1000 });
    return rows.reverse().map((r) => ({
      id: r.id,
      channel: r.channel,
      route: r.route,
      why: r.reason as DeliveryView['why'],
      level: r.level,
      created_at: new Date(r.created_at).toISOString(),
      state: r.status,
    }));
  }
}
