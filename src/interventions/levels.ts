/**
 * Intervention levels: INFO < WARNING < URGENT < CRITICAL, ordered and comparable. The names are
 * the channels' (src/channels/levels.ts); this module adds their order and arithmetic.
 */
import type { Level } from '../events/catalogue.js';
import { INTERVENTION_LEVELS, type InterventionLevelName } from '../channels/levels.js';

export { INTERVENTION_LEVELS };
export type InterventionLevel = InterventionLevelName;

/** Numeric rank of each level: compare ranks, never names. */
export const INTERVENTION_RANK: Readonly<Record<InterventionLevel, number>> = { INFO: 0, WARNING: 1, URGENT: 2, CRITICAL: 3 };

export function isInterventionLevel(v: unknown): v is InterventionLevel {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(INTERVENTION_RANK, v);
}

/** Negative when a < b, zero when equal, positive when a > b (usable with Array.sort). */
export function compareLevels(a: InterventionLevel, b: InterventionLevel): number {
  return INTERVENTION_RANK[a] - INTERVENTION_RANK[b];
}

/** The higher of two levels. */
export function maxLevel(a: InterventionLevel, b: InterventionLevel): InterventionLevel {
  return compareLevels(a, b) >= 0 ? a : b;
}

/** The highest of several levels; null when there are none. */
export function highestLevel(levels: Iterable<InterventionLevel>): InterventionLevel | null {
  let best: InterventionLevel | null = null;
  for (const l of levels) best = best === null ? l : maxLevel(best, l);
  return best;
}

/** One level up; CRITICAL stays CRITICAL. */
export function nextLevel(l: InterventionLevel): InterventionLevel {
  return INTERVENTION_LEVELS[Math.min(INTERVENTION_RANK[l] + 1, INTERVENTION_LEVELS.length - 1)];
}

/** Levels at or above `min`, in order. */
export function levelsFrom(min: InterventionLevel): InterventionLevel[] {
  return INTERVENTION_LEVELS.filter((l) => INTERVENTION_RANK[l] >= INTERVENTION_RANK[min]);
}

/** The `logs.level` an intervention's audit event is stored at (URGENT has no log level: ERROR). */
export const AUDIT_LOG_LEVEL: Readonly<Record<InterventionLevel, Level>> = { INFO: 'INFO', WARNING: 'WARNING', URGENT: 'ERROR', CRITICAL: 'CRITICAL' };
