/** What the seven original checks look at and what each returns. */
import type { InterventionLevel } from '../../interventions/levels.js';
import type { Thresholds } from '../thresholds.js';

/** A task as the original `check_intervention_needed` saw it. */
export interface TaskInput {
  id: string;
  text?: string | null;
  priority?: string | null;
  /** 0..1 */
  confidence?: number | null;
  impact?: string | null;
  requires_review?: boolean | null;
  agent?: string | null;
}

/** Free context; `budget_used` (US dollars this period) is what the budget check reads. */
export type CheckContext = { budget_used?: number | null } & Record<string, unknown>;

/** Facts from the database the checks need next to the task: errors recorded for it. */
export interface CheckFacts {
  error_count: number;
}

export interface Reason {
  code: string;
  level: InterventionLevel;
  detail: string;
}

export interface CheckInput {
  task: TaskInput;
  context: CheckContext;
  thresholds: Readonly<Thresholds>;
  facts: CheckFacts;
}

/** One check: a reason when it matches, null otherwise. Pure. */
export type Check = (input: CheckInput) => Reason | null;
