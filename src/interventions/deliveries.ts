/**
 * Deliveries: what routing hands to the outbox. One per channel a notification goes to, each with
 * its own id (the idempotency key a provider sees) and the Notification the channel renders.
 *
 * `DeliveryRecorder.record` runs inside the transaction that changed the intervention, so a
 * delivery exists if and only if the change committed. The durable outbox (issue 5) implements it
 * with an INSERT into its table; MemoryDeliveryRecorder below is the in-process stand-in.
 */
import type { Notification } from '../channels/channel.js';
import type { Queryable } from '../store/store.js';
import type { Intervention, NotifyWhy } from './types.js';

export interface Delivery {
  /** UUIDv7; also `notification.delivery_id`. */
  id: string;
  intervention_id: string;
  channel: string;
  /** The route that chose this channel (the first one naming it). */
  route: string;
  why: NotifyWhy;
  notification: Notification;
}

/** A delivery as `get(id)` shows it; the outbox adds its state (pending, sent, failed...). */
export interface DeliveryView {
  id: string;
  channel: string;
  route: string;
  why: NotifyWhy;
  level: string;
  created_at: string;
  state?: string;
}

export interface DeliveryRecorder {
  /** Records deliveries in the caller's transaction; throwing rolls the intervention change back. */
  record(tx: Queryable, deliveries: readonly Delivery[]): Promise<void>;
  /** The deliveries of one intervention, oldest first. */
  list(db: Queryable, interventionId: string): Promise<DeliveryView[]>;
}

/**
 * In-process recorder for tests and embedded use until the outbox lands. Not durable, and it keeps
 * deliveries recorded by a transaction that later rolled back: tests only.
 */
export class MemoryDeliveryRecorder implements DeliveryRecorder {
  readonly deliveries: Delivery[] = [];

  async record(_tx: Queryable, deliveries: readonly Delivery[]): Promise<void> {
    this.deliveries.push(...deliveries);
  }

  async list(_db: Queryable, interventionId: string): Promise<DeliveryView[]> {
    return this.deliveries
      .filter((d) => d.intervention_id === interventionId)
      .map((d) => ({ id: d.id, channel: d.channel, route: d.route, why: d.why, level: d.notification.level, created_at: d.notification.timestamp }));
  }

  private taken = 0;

  /** Deliveries recorded since the last call (handy in tests). */
  take(): Delivery[] {
    const out = this.deliveries.slice(this.taken);
    this.taken = this.deliveries.length;
    return out;
  }
}

/** The Notification a channel receives for one delivery of an intervention change. */
export function buildNotification(i: Intervention, deliveryId: string, at: number): Notification {
  return {
    delivery_id: deliveryId,
    intervention_id: i.id,
    task_id: i.task_id,
    level: i.level,
    title: i.title,
    message: i.message,
    reasons: [...i.reasons],
    context: i.context,
    timestamp: new Date(at).toISOString(),
    action_url: `/interventions/${i.id}`,
  };
}
