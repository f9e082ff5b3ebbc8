/**
 * What travels on the live stream, and who may see it. Server → client messages are
 * `{type, ...}` JSON text frames; the audience rules are here, in one place:
 *
 * - `intervention` (the original's `intervention_alert` plus id and status): keys with `read`
 *   and every user when addressed to `*`; only that user when addressed to one user.
 * - `notification` (an in-app row): only the user it belongs to.
 * - `event` (a committed audit row): only `read` keys that subscribed, through their filters.
 */
import type { Notification } from '../../channels/channel.js';
import type { EventRow } from '../../events/types.js';
import type { InboxNotification } from '../../notifications/inbox.js';
import { hasScope, type Principal } from '../apiKeys.js';

/** The original's WebSocket payload, plus the intervention's id and status. */
export interface InterventionAlert {
  event_type: 'intervention_alert';
  id: string;
  status: string;
  task_id: string | null;
  level: string;
  timestamp: string;
  /** The reason codes joined by `, ` (the original sent one reason). */
  reason: string;
  reasons: string[];
  title: string;
  message: string;
  context: Record<string, unknown>;
  action_url: string | null;
}

/** What the hub passes around, within a process and (on PostgreSQL) between processes. */
export type BusMessage =
  | { kind: 'intervention'; audience: '*' | { user_id: string }; data: InterventionAlert }
  | { kind: 'notification'; user_id: string; data: InboxNotification }
  /** A user added or removed a push subscription: push target caches reload. */
  | { kind: 'push_subscriptions_changed' };

/** Who is on the other end of a socket. */
export interface StreamIdentity {
  principal: Principal;
  /** The user when signed in with a user token; null for an API key. */
  userId: string | null;
}

/** A client's event subscription: every field optional, each a list of accepted values. */
export interface EventFilter {
  event_type?: string[];
  level?: string[];
  task_id?: string[];
  agent_name?: string[];
}

export function alertFromNotification(n: Notification, status = 'open'): InterventionAlert {
  return {
    event_type: 'intervention_alert',
    id: n.intervention_id,
    status,
    task_id: n.task_id,
    level: n.level,
    timestamp: n.timestamp,
    reason: n.reasons.join(', '),
    reasons: [...n.reasons],
    title: n.title,
    message: n.message,
    context: n.context,
    action_url: n.action_url,
  };
}

/** Whether `who` may receive this bus message. */
export function mayReceive(who: StreamIdentity, msg: BusMessage): boolean {
  switch (msg.kind) {
    case 'intervention':
      if (msg.audience === '*') return who.userId !== null || hasScope(who.principal.scopes, 'read');
      return who.userId === msg.audience.user_id;
    case 'notification':
      return who.userId === msg.user_id;
    default:
      return false;
  }
}

/** The frame a bus message becomes for clients. */
export function frameOf(msg: BusMessage): string | null {
  if (msg.kind === 'intervention') return JSON.stringify({ type: 'intervention', data: msg.data });
  if (msg.kind === 'notification') return JSON.stringify({ type: 'notification', data: msg.data });
  return null;
}

export function eventFrame(row: EventRow): string {
  return JSON.stringify({
    type: 'event',
    data: { id: row.id, timestamp: new Date(row.time).toISOString(), level: row.level, message: row.message, event_type: row.event_type, metadata: row.metadata },
  });
}

export function matchesFilter(f: EventFilter, row: EventRow): boolean {
  if (f.event_type && !f.event_type.includes(row.event_type)) return false;
  if (f.level && !f.level.includes(row.level)) return false;
  if (f.task_id && !f.task_id.includes(String(row.metadata.task_id))) return false;
  if (f.agent_name && !f.agent_name.includes(String(row.metadata.agent_name))) return false;
  return true;
}

const FILTER_FIELDS = ['event_type', 'level', 'task_id', 'agent_name'] as const;
export const MAX_FILTER_VALUES = 100;

/** Parses a subscribe message's filters; answers the filter or a problem. */
export function parseFilter(m: Record<string, unknown>): EventFilter | string {
  const f: EventFilter = {};
  for (const k of FILTER_FIELDS) {
    const v = m[k];
    if (v === undefined || v === null) continue;
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || list.length > MAX_FILTER_VALUES || list.some((x) => typeof x !== 'string' || x.length > 200)) {
      return `${k}: expected a string or a list of at most ${MAX_FILTER_VALUES} strings`;
    }
    f[k] = list as string[];
  }
  return f;
}
