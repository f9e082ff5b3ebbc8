/** Interventions as stored and as the service answers them. */
import type { Reason } from '../rules/check.js';
import type { InterventionLevel } from './levels.js';

export const STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type InterventionStatus = (typeof STATUSES)[number];

export interface Intervention {
  id: string;
  task_id: string | null;
  /** Reason codes, first seen first. */
  reasons: string[];
  level: InterventionLevel;
  title: string;
  message: string;
  context: Record<string, unknown>;
  dedupe_key: string;
  /** `check`, `manual` or `rule:<id>`. */
  source: string;
  status: InterventionStatus;
  occurrences: number;
  /** ISO 8601 times. */
  first_seen: string;
  last_seen: string;
  level_since: string;
  last_notified_at: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
}

export interface Occurrence {
  id: number;
  at: string;
  level: InterventionLevel;
  reasons: Reason[];
  source: string;
  context: Record<string, unknown>;
}

/** Why a change notifies people. */
export type NotifyWhy = 'first_time' | 'level_rose' | 'repeat_interval' | 'escalated';

export interface NotificationRecord {
  id: number;
  at: string;
  reason: NotifyWhy;
  level: InterventionLevel;
  channels: string[];
  routes: string[];
  silenced_by: string[];
  deliveries: number;
}

/** What a trigger asks for: from a check, a stream rule, or a person. */
export interface TriggerInput {
  dedupe_key: string;
  task_id: string | null;
  level: InterventionLevel;
  reasons: Reason[];
  title: string;
  message: string;
  context: Record<string, unknown>;
  source: string;
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());

/** A row of `interventions` (as either driver returns it) → Intervention. */
export function toIntervention(r: Record<string, unknown>): Intervention {
  return {
    id: r.id as string,
    task_id: (r.task_id as string | null) ?? null,
    reasons: r.reasons as string[],
    level: r.level as InterventionLevel,
    title: r.title as string,
    message: r.message as string,
    context: r.context as Record<string, unknown>,
    dedupe_key: r.dedupe_key as string,
    source: r.source as string,
    status: r.status as InterventionStatus,
    occurrences: Number(r.occurrences),
    first_seen: iso(r.first_seen)!,
    last_seen: iso(r.last_seen)!,
    level_since: iso(r.level_since)!,
    last_notified_at: iso(r.last_notified_at),
    acknowledged_by: (r.acknowledged_by as string | null) ?? null,
    acknowledged_at: iso(r.acknowledged_at),
    resolved_by: (r.resolved_by as string | null) ?? null,
    resolved_at: iso(r.resolved_at),
  };
}

export function toOccurrence(r: Record<string, unknown>): Occurrence {
  return {
    id: Number(r.id),
    at: iso(r.at)!,
    level: r.level as InterventionLevel,
    reasons: r.reasons as Reason[],
    source: r.source as string,
    context: r.context as Record<string, unknown>,
  };
}

export function toNotificationRecord(r: Record<string, unknown>): NotificationRecord {
  return {
    id: Number(r.id),
    at: iso(r.at)!,
    reason: r.reason as NotifyWhy,
    level: r.level as InterventionLevel,
    channels: r.channels as string[],
    routes: r.routes as string[],
    silenced_by: r.silenced_by as string[],
    deliveries: Number(r.deliveries),
  };
}
