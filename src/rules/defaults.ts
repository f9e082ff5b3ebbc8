/** The three default stream rules, written as data exactly as a config file would declare them. */
import type { RuleSpec } from './ruleSchema.js';

export const ERRORS_RULE_ID = 'errors_per_task';
export const BUDGET_RULE_ID = 'monthly_budget';
export const SECURITY_RULE_ID = 'permission_denied_burst';

export const DEFAULT_RULES: readonly RuleSpec[] = Object.freeze([
  {
    id: ERRORS_RULE_ID,
    description: 'task_failed events for one task reaching the error threshold (3 by default).',
    event_type: 'task_failed',
    aggregate: 'count',
    group_by: 'task_id',
    tiers: [{ at: { threshold: 'error_threshold' }, level: 'URGENT' }],
    reason: 'ERROR_THRESHOLD',
    // The same key as interventions opened by the checks for this task: they merge.
    dedupe_key: 'task:{task_id}',
    title: 'Intervention Required for Task {task_id}',
    message: 'Task {task_id} failed {value} times (threshold {threshold})',
  },
  {
    id: BUDGET_RULE_ID,
    description: 'Spend on model calls this calendar month crossing 80%, 100% and 150% of the budget.',
    event_type: 'model_called',
    aggregate: { sum: 'cost_usd' },
    window: 'month',
    tiers: [
      { at: { threshold: 'budget_threshold', factor: 0.8 }, level: 'WARNING' },
      { at: { threshold: 'budget_threshold', factor: 1 }, level: 'URGENT' },
      { at: { threshold: 'budget_threshold', factor: 1.5 }, level: 'CRITICAL' },
    ],
    reason: 'BUDGET_EXCEEDED',
    dedupe_key: 'budget:{period}',
    title: 'Model spend for {period} reached ${threshold}',
    message: 'Model calls cost ${value} in {period}, reaching the {level} tier (${threshold})',
  },
  {
    id: SECURITY_RULE_ID,
    description: 'permission_denied for one user at least 5 times in 10 minutes.',
    event_type: 'permission_denied',
    aggregate: 'count',
    window: '10m',
    group_by: 'user_id',
    tiers: [{ at: 5, level: 'WARNING' }],
    reason: 'SECURITY',
    dedupe_key: 'security:{user_id}',
    title: 'Repeated permission denials for {user_id}',
    message: '{user_id} was refused {value} times within 10 minutes',
  },
] satisfies RuleSpec[]);
