/**
 * Every change of an intervention is also an audit event in `logs`, written in the transaction
 * that made the change: `intervention.triggered`, `intervention.escalated`,
 * `intervention.acknowledged`, `intervention.resolved`.
 */
import { insertIdempotent } from '../events/insertEvents.js';
import type { EventRow } from '../events/types.js';
import { uuidv7 } from '../events/uuid7.js';
import type { Tx } from '../store/store.js';
import { AUDIT_LOG_LEVEL } from './levels.js';
import type { Intervention } from './types.js';

export const AUDIT_EVENT_TYPES = ['intervention.triggered', 'intervention.escalated', 'intervention.acknowledged', 'intervention.resolved'] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export function auditRow(type: AuditEventType, i: Intervention, now: number, message: string, extra: Record<string, unknown> = {}): EventRow {
  const level = type === 'intervention.triggered' || type === 'intervention.escalated' ? AUDIT_LOG_LEVEL[i.level] : 'INFO';
  return {
    id: uuidv7(now),
    level,
    message,
    time: now,
    event_type: type,
    metadata: {
      event_type: type,
      intervention_id: i.id,
      task_id: i.task_id,
      level: i.level,
      status: i.status,
      reasons: i.reasons,
      dedupe_key: i.dedupe_key,
      occurrences: i.occurrences,
      ...extra,
    },
  };
}

export async function writeAudit(tx: Tx, type: AuditEventType, i: Intervention, now: number, message: string, extra?: Record<string, unknown>): Promise<void> {
  await insertIdempotent(tx, [auditRow(type, i, now, message, extra)]);
}
