/**
 * The `in_app` channel: one row in `notifications` per recipient user (the seed's in-app row:
 * notification_type `intervention_<level>`, unread, action_url, JSON metadata), then the row live
 * to that user's stream clients. A target's address is a user id or name, or `*` for every user.
 * A retried delivery adds no second row (the delivery id is unique per user).
 */
import { performance } from 'node:perf_hooks';
import { insertNotifications } from '../notifications/inbox.js';
import { allUserIds, findUser, UserNotFoundError } from '../notifications/users.js';
import type { Queryable } from '../store/store.js';
import type { Channel, ChannelTarget, Notification, SendResult } from './channel.js';
import type { BusMessage } from '../http/stream/messages.js';

/** Anything that carries bus messages to stream clients: the StreamHub. */
export interface StreamPublisher {
  publish(msg: BusMessage): Promise<void>;
}

export const ALL_USERS = '*';

export function notificationType(level: string): string {
  return `intervention_${level.toLowerCase()}`;
}

export class InAppChannel implements Channel {
  readonly name = 'in_app';

  constructor(
    private readonly db: Queryable,
    private readonly publisher?: StreamPublisher,
  ) {}

  async send(n: Notification, target: ChannelTarget): Promise<SendResult> {
    const started = performance.now();
    const done = (r: Omit<SendResult, 'durationMs'>): SendResult => ({ ...r, durationMs: Math.round((performance.now() - started) * 10) / 10 });
    let users: string[];
    try {
      users = target.address === ALL_USERS ? await allUserIds(this.db) : [(await findUser(this.db, target.address)).id];
    } catch (err) {
      if (err instanceof UserNotFoundError) return done({ outcome: 'permanent', status: 'UNKNOWN_USER', error: `in_app: ${err.message}`, targetGone: true });
      return done({ outcome: 'retryable', status: 'DATABASE_ERROR', error: `in_app: ${(err as Error).message}` });
    }
    let rows;
    try {
      rows = await insertNotifications(this.db, users, {
        title: n.title,
        message: n.message,
        notification_type: notificationType(n.level),
        action_url: n.action_url,
        metadata: { intervention_id: n.intervention_id, task_id: n.task_id, level: n.level, reasons: n.reasons, timestamp: n.timestamp, context: n.context },
        delivery_id: n.delivery_id,
      });
    } catch (err) {
      return done({ outcome: 'retryable', status: 'DATABASE_ERROR', error: `in_app: ${(err as Error).message}` });
    }
    // The rows are stored: that is the delivery. The live copy is best effort.
    for (const row of rows) await this.publisher?.publish({ kind: 'notification', user_id: row.user_id, data: row }).catch(() => undefined);
    return done({ outcome: 'ok', status: `${rows.length} stored`, providerId: rows.length === 1 ? rows[0].id : undefined });
  }

  mask(target: ChannelTarget): string {
    return target.address === ALL_USERS ? 'in_app:*' : `in_app:user:${target.address}`;
  }
}
