/**
 * `checkInterventionNeeded`: the original seven checks, in the original order. Unlike the original,
 * which stopped at the first match, it reports every matched reason and the highest level.
 */
import { highestLevel, type InterventionLevel } from '../interventions/levels.js';
import { budgetExceeded } from './checks/budgetExceeded.js';
import { complianceCheck } from './checks/complianceCheck.js';
import { criticalPriority } from './checks/criticalPriority.js';
import { errorThreshold } from './checks/errorThreshold.js';
import { highImpact } from './checks/highImpact.js';
import { lowConfidence } from './checks/lowConfidence.js';
import { manualReview } from './checks/manualReview.js';
import type { Check, CheckContext, CheckFacts, Reason, TaskInput } from './checks/types.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from './thresholds.js';

export type { CheckContext, CheckFacts, Reason, TaskInput } from './checks/types.js';

/** The seven checks, in the original's order (the order reasons are reported in). */
export const CHECKS: readonly { name: string; check: Check }[] = [
  { name: 'low_confidence', check: lowConfidence },
  { name: 'critical_priority', check: criticalPriority },
  { name: 'error_threshold', check: errorThreshold },
  { name: 'budget_exceeded', check: budgetExceeded },
  { name: 'high_impact', check: highImpact },
  { name: 'manual_review', check: manualReview },
  { name: 'compliance_check', check: complianceCheck },
];

export interface CheckResult {
  needed: boolean;
  /** The highest level among the reasons; null when none matched. */
  level: InterventionLevel | null;
  reasons: Reason[];
}

export function checkInterventionNeeded(
  task: TaskInput,
  context: CheckContext = {},
  thresholds: Readonly<Thresholds> = DEFAULT_THRESHOLDS,
  facts: CheckFacts = { error_count: 0 },
): CheckResult {
  const input = { task, context, thresholds, facts };
  const reasons: Reason[] = [];
  for (const { check } of CHECKS) {
    const r = check(input);
    if (r !== null) reasons.push(r);
  }
  const level = highestLevel(reasons.map((r) => r.level));
  return { needed: reasons.length > 0, level, reasons };
}

/** Field → expected type of a task; the HTTP schema says the same. */
const TASK_FIELDS: Record<string, (v: unknown) => boolean> = {
  id: (v) => typeof v === 'string' && v.length > 0 && v.length <= 256,
  text: (v) => typeof v === 'string',
  priority: (v) => typeof v === 'string',
  confidence: (v) => typeof v === 'number' && v >= 0 && v <= 1,
  impact: (v) => typeof v === 'string',
  requires_review: (v) => typeof v === 'boolean',
  agent: (v) => typeof v === 'string',
};
const EXPECTED: Record<string, string> = {
  id: 'a non-empty string (at most 256 characters)',
  confidence: 'a number from 0 to 1',
  requires_review: 'true or false',
};

/** Problems with a task and context as callers send them (`task.confidence: expected ...`); empty when valid. */
export function validateCheckInput(task: unknown, context: unknown): string[] {
  const problems: string[] = [];
  if (typeof task !== 'object' || task === null || Array.isArray(task)) return ['task: expected an object'];
  const t = task as Record<string, unknown>;
  if (t.id === undefined || t.id === null) problems.push('task.id: required');
  for (const [k, v] of Object.entries(t)) {
    const ok = TASK_FIELDS[k];
    if (ok === undefined) problems.push(`task.${k}: unknown field (known: ${Object.keys(TASK_FIELDS).join(', ')})`);
    else if (v !== null && v !== undefined && !ok(v)) problems.push(`task.${k}: expected ${EXPECTED[k] ?? 'a string'}, got ${JSON.stringify(v)}`);
  }
  if (context !== undefined && context !== null) {
    if (typeof context !== 'object' || Array.isArray(context)) problems.push('context: expected an object');
    else {
      const b = (context as Record<string, unknown>).budget_used;
      if (b !== undefined && b !== null && (typeof b !== 'number' || !Number.isFinite(b) || b < 0)) {
        problems.push(`context.budget_used: expected a non-negative number of US dollars, got ${JSON.stringify(b)}`);
      }
    }
  }
  return problems;
}
