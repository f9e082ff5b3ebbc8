/**
 * The lifecycle: open → acknowledged → resolved, with occurrences, level rises and escalation.
 *
 * - trigger: under a lock on the dedupe key, a new intervention is opened, or the one not yet
 *   resolved gets an occurrence (and is notified again only if its level rose).
 * - acknowledge stops repeats and escalation; resolve closes it; the next trigger of the same key
 *   then opens a new intervention.
 * - escalate (from tick): open and unacknowledged past its level's escalate-after interval → one
 *   level up, notified; repeat (from tick): past the repeat interval → notified again.
 * Every change writes its audit event in the same transaction.
 */
import { uuidv7 } from '../events/uuid7.js';
import type { Tx } from '../store/store.js';
import { writeAudit } from './audit.js';
import type { EscalationPolicy } from './config.js';
import { INTERVENTION_LEVELS, INTERVENTION_RANK, highestLevel, nextLevel, type InterventionLevel } from './levels.js';
import { deduplicated, notify, type NotifyDeps, type RoutingDecision } from './notify.js';
import { addOccurrence, dueForEscalation, dueForRepeat, findActive, getIntervention, insertIntervention, insertOccurrence, lockDedupeKey, raiseLevel, setStatus } from './sql.js';
import type { Intervention, TriggerInput } from './types.js';

export interface TriggerOutcome {
  intervention: Intervention;
  created: boolean;
  /** The level before this trigger (null when created). */
  previous_level: InterventionLevel | null;
  decision: RoutingDecision;
}

export async function trigger(tx: Tx, deps: NotifyDeps, t: TriggerInput, now: number): Promise<TriggerOutcome> {
  await lockDedupeKey(tx, t.dedupe_key);
  const cur = await findActive(tx, t.dedupe_key);
  if (cur === null) {
    const created = await insertIntervention(tx, uuidv7(now), t, now);
    await insertOccurrence(tx, created.id, t, now);
    await writeAudit(tx, 'intervention.triggered', created, now, `Intervention ${created.id} opened at ${created.level}: ${created.title}`, {
      source: t.source,
      created: true,
    });
    const decision = await notify(tx, deps, created, 'first_time', now);
    return { intervention: created, created: true, previous_level: null, decision };
  }
  const rose = INTERVENTION_RANK[t.level] > INTERVENTION_RANK[cur.level];
  const updated = await addOccurrence(tx, cur, t, rose, now);
  await insertOccurrence(tx, updated.id, t, now);
  await writeAudit(tx, 'intervention.triggered', updated, now, `Intervention ${updated.id} triggered again (occurrence ${updated.occurrences})${rose ? `; level rose from ${cur.level} to ${updated.level}` : ''}`, {
    source: t.source,
    created: false,
    previous_level: cur.level,
  });
  const decision = rose ? await notify(tx, deps, updated, 'level_rose', now, cur.level) : deduplicated(updated, deps);
  return { intervention: updated, created: false, previous_level: cur.level, decision };
}

export type ActionResult = { ok: true; intervention: Intervention; changed: boolean } | { ok: false; error: 'not_found' | 'conflict'; message: string };

/** Acknowledges an open intervention; acknowledging twice changes nothing; a resolved one is a conflict. */
export async function acknowledge(tx: Tx, id: string, by: string, now: number): Promise<ActionResult> {
  const cur = await getIntervention(tx, id, true);
  if (cur === null) return { ok: false, error: 'not_found', message: `no intervention ${id}` };
  if (cur.status === 'acknowledged') return { ok: true, intervention: cur, changed: false };
  if (cur.status === 'resolved') return { ok: false, error: 'conflict', message: `intervention ${id} is already resolved` };
  const i = await setStatus(tx, id, 'acknowledged', by, now);
  await writeAudit(tx, 'intervention.acknowledged', i, now, `Intervention ${id} acknowledged by ${by}`, { by });
  return { ok: true, intervention: i, changed: true };
}

/** Resolves an intervention; resolving twice changes nothing. */
export async function resolve(tx: Tx, id: string, by: string, now: number, note?: string): Promise<ActionResult> {
  const cur = await getIntervention(tx, id, true);
  if (cur === null) return { ok: false, error: 'not_found', message: `no intervention ${id}` };
  if (cur.status === 'resolved') return { ok: true, intervention: cur, changed: false };
  const i = await setStatus(tx, id, 'resolved', by, now);
  await writeAudit(tx, 'intervention.resolved', i, now, `Intervention ${id} resolved by ${by}`, { by, ...(note ? { note } : {}) });
  return { ok: true, intervention: i, changed: true };
}

export interface TickResult {
  escalated: RoutingDecision[];
  repeated: RoutingDecision[];
}

function policyMap(policy: EscalationPolicy, key: 'repeat_after_ms' | 'escalate_after_ms'): Map<InterventionLevel, number> {
  const m = new Map<InterventionLevel, number>();
  for (const l of INTERVENTION_LEVELS) {
    const v = policy[l][key];
    if (v !== null && !(key === 'escalate_after_ms' && l === 'CRITICAL')) m.set(l, v);
  }
  return m;
}

/** Escalates what is due (one level per tick), in the caller's transaction. */
export async function escalateDue(tx: Tx, deps: NotifyDeps, policy: EscalationPolicy, now: number, limit: number): Promise<RoutingDecision[]> {
  const out: RoutingDecision[] = [];
  for (const cur of await dueForEscalation(tx, policyMap(policy, 'escalate_after_ms'), now, limit)) {
    const level = nextLevel(cur.level);
    const i = await raiseLevel(tx, cur.id, level, now);
    await writeAudit(tx, 'intervention.escalated', i, now, `Intervention ${i.id} escalated from ${cur.level} to ${level}: unacknowledged`, { previous_level: cur.level });
    out.push(await notify(tx, deps, i, 'escalated', now, cur.level));
  }
  return out;
}

/** Notifies again what is past its repeat interval, in the caller's transaction. */
export async function repeatDue(tx: Tx, deps: NotifyDeps, policy: EscalationPolicy, now: number, limit: number): Promise<RoutingDecision[]> {
  const out: RoutingDecision[] = [];
  for (const i of await dueForRepeat(tx, policyMap(policy, 'repeat_after_ms'), now, limit)) {
    out.push(await notify(tx, deps, i, 'repeat_interval', now));
  }
  return out;
}

/** The highest level among several triggers' reasons (manual opens give theirs). */
export function levelOf(reasons: readonly { level: InterventionLevel }[], fallback: InterventionLevel): InterventionLevel {
  return highestLevel(reasons.map((r) => r.level)) ?? fallback;
}
