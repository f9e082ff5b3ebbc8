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

export class OutboxRecorder implements DeliveryRecorder {
  constructor(
    private readonly directory: ChannelDirectory,
    private readonly clock: Clock,
    /** Called after record(): lets an in-process worker look at once instead of at its next poll. */
    private readonly wake: () => void = () => undefined,
  ) {}

  /** The outbox rows for routed deliveries (exported for `vigil notify test` and fallbacks). */
  expand(deliveries: readonly Delivery[]): NewDelivery[] {
    const rows: NewDelivery[] = [];
    for (const d of deliveries) {
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
      const targets = this.directory.channel(d.channel) ? this.directory.targets(d.channel) : [];
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
    await insertDeliveries(tx, this.expand(deliveries), this.clock.now());
    // The worker may look before the transaction commits; it will look again at its next poll.
    queueMicrotask(this.wake);
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
