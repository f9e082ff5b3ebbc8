/**
 * The `websocket` channel: hands an intervention alert (the original's `intervention_alert`
 * payload, plus id and status) to the stream hub, which delivers it to this process's authorised
 * clients and, on PostgreSQL, to those of every other server. `ok` once the hub has it: a live
 * stream keeps nothing for clients not connected (the in-app inbox does). A target's address is
 * `*` (every `read` key and every user) or one user id.
 */
import { performance } from 'node:perf_hooks';
import { alertFromNotification, type InterventionAlert } from '../http/stream/messages.js';
import type { Intervention } from '../interventions/types.js';
import type { Channel, ChannelTarget, Notification, SendResult } from './channel.js';
import type { StreamPublisher } from './inapp.js';

export const ALL_CLIENTS = '*';

/** An intervention's current state as a stream message (for lifecycle changes: acknowledged, resolved). */
export function interventionAlert(i: Intervention, at = new Date()): InterventionAlert {
  return {
    event_type: 'intervention_alert',
    id: i.id,
    status: i.status,
    task_id: i.task_id,
    level: i.level,
    timestamp: at.toISOString(),
    reason: i.reasons.join(', '),
    reasons: [...i.reasons],
    title: i.title,
    message: i.message,
    context: i.context,
    action_url: `/interventions/${i.id}`,
  };
}

export class WebSocketChannel implements Channel {
  readonly name = 'websocket';

  constructor(private readonly hub: StreamPublisher) {}

  async send(n: Notification, target: ChannelTarget): Promise<SendResult> {
    const started = performance.now();
    const audience = target.address === ALL_CLIENTS ? ALL_CLIENTS : { user_id: target.address };
    let error: string | undefined;
    try {
      await this.hub.publish({ kind: 'intervention', audience, data: alertFromNotification(n) });
    } catch (err) {
      // This process's clients have it; only the relay to other servers failed. Not retried:
      // a retry would show the alert twice here.
      error = `websocket: relay to other servers failed: ${(err as Error).message}`;
    }
    return { outcome: 'ok', status: error ? 'LOCAL_ONLY' : 'PUBLISHED', error, durationMs: Math.round((performance.now() - started) * 10) / 10 };
  }

  mask(target: ChannelTarget): string {
    return target.address === ALL_CLIENTS ? 'websocket:*' : `websocket:user:${target.address}`;
  }
}
