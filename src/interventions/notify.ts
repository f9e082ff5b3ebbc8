/**
 * The notify stage: given an intervention change and why it notifies, route it (routing table),
 * apply silences, hand the deliveries to the recorder, and record the decision. All in the
 * caller's transaction. The decision is a value, logged, and returned to the caller.
 */
import type { Logger } from 'pino';
import { uuidv7 } from '../events/uuid7.js';
import type { Queryable } from '../store/store.js';
import { buildNotification, type Delivery, type DeliveryRecorder } from './deliveries.js';
import type { InterventionLevel } from './levels.js';
import type { AlertView } from './matchers.js';
import { route, type Route } from './routing.js';
import { activeSilences, silencedBy } from './silences.js';
import { insertNotification, markNotified } from './sql.js';
import type { Intervention, NotifyWhy } from './types.js';

/** Why a change does or does not notify, where to, and what muted it. */
export interface RoutingDecision {
  intervention_id: string;
  notify: boolean;
  why: NotifyWhy | 'deduplicated';
  /** One sentence for people and logs. */
  explanation: string;
  level: InterventionLevel;
  channels: string[];
  routes: string[];
  silenced_by: string[];
  deliveries: Delivery[];
}

export interface NotifyDeps {
  recorder: DeliveryRecorder;
  routes: () => readonly Route[];
  log: Logger;
}

const EXPLAIN: Record<NotifyWhy, (i: Intervention, prev?: InterventionLevel) => string> = {
  first_time: (i) => `new ${i.level} intervention`,
  level_rose: (i, prev) => `level rose from ${prev} to ${i.level}`,
  repeat_interval: (i) => `still open and unacknowledged; the ${i.level} repeat interval passed`,
  escalated: (i, prev) => `unacknowledged past the ${prev} escalate-after interval; escalated to ${i.level}`,
};

export function alertView(i: Intervention): AlertView {
  return { level: i.level, reasons: i.reasons, task_id: i.task_id, dedupe_key: i.dedupe_key, source: i.source, title: i.title, context: i.context };
}

/** The decision not to notify: a repeated trigger at the same or a lower level. */
export function deduplicated(i: Intervention, deps: NotifyDeps): RoutingDecision {
  const d: RoutingDecision = {
    intervention_id: i.id,
    notify: false,
    why: 'deduplicated',
    explanation: `occurrence ${i.occurrences} of an intervention already ${i.status} at ${i.level}; the level did not rise`,
    level: i.level,
    channels: [],
    routes: [],
    silenced_by: [],
    deliveries: [],
  };
  deps.log.debug({ decision: summary(d) }, 'not notifying');
  return d;
}

export async function notify(tx: Queryable, deps: NotifyDeps, i: Intervention, why: NotifyWhy, now: number, prev?: InterventionLevel): Promise<RoutingDecision> {
  const view = alertView(i);
  const { channels, routes } = route(view, deps.routes());
  const silenced = silencedBy(view, await activeSilences(tx, now));
  const deliveries: Delivery[] = [];
  if (silenced.length === 0) {
    const table = deps.routes();
    for (const channel of channels) {
      const id = uuidv7(now);
      const via = table.find((r) => routes.includes(r.name) && r.channels.includes(channel))!.name;
      deliveries.push({ id, intervention_id: i.id, channel, route: via, why, notification: buildNotification(i, id, now) });
    }
    if (deliveries.length > 0) await deps.recorder.record(tx, deliveries);
  }
  await insertNotification(tx, { intervention_id: i.id, at: now, reason: why, level: i.level, channels, routes, silenced_by: silenced, deliveries: deliveries.length });
  await markNotified(tx, i.id, now);
  let explanation = EXPLAIN[why](i, prev);
  if (silenced.length > 0) explanation += `; silenced by ${silenced.join(', ')}: recorded, not sent`;
  else if (channels.length === 0) explanation += '; no route matched';
  const d: RoutingDecision = { intervention_id: i.id, notify: deliveries.length > 0, why, explanation, level: i.level, channels, routes, silenced_by: silenced, deliveries };
  deps.log.info({ decision: summary(d) }, silenced.length > 0 ? 'notification silenced' : 'notifying');
  return d;
}

/** The decision without its deliveries' payloads, for logs. */
export function summary(d: RoutingDecision): Omit<RoutingDecision, 'deliveries'> & { deliveries: number } {
  return { ...d, deliveries: d.deliveries.length };
}
