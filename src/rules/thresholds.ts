/**
 * The thresholds of the original intervention checks, with their defaults. Changeable at run time
 * (`updateThresholds`); the stream rules refer to them by name (`{threshold: 'error_threshold'}`),
 * so one change moves both the check and the rule.
 */

/** Below this confidence (0..1) a task needs a person: LOW_CONFIDENCE. */
export const DEFAULT_CONFIDENCE_THRESHOLD = 0.75;
/** This many errors recorded for one task: ERROR_THRESHOLD. */
export const DEFAULT_ERROR_THRESHOLD = 3;
/** Spend above this, in US dollars per budget period (a calendar month by default): BUDGET_EXCEEDED. */
export const DEFAULT_BUDGET_THRESHOLD_USD = 100.0;
/** Words in a task's text that call for a compliance review (whole words, case-insensitive). */
export const DEFAULT_COMPLIANCE_KEYWORDS: readonly string[] = ['financial', 'legal', 'contract', 'compliance', 'regulatory'];

export interface Thresholds {
  confidence_threshold: number;
  error_threshold: number;
  budget_threshold: number;
  compliance_keywords: readonly string[];
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  confidence_threshold: DEFAULT_CONFIDENCE_THRESHOLD,
  error_threshold: DEFAULT_ERROR_THRESHOLD,
  budget_threshold: DEFAULT_BUDGET_THRESHOLD_USD,
  compliance_keywords: DEFAULT_COMPLIANCE_KEYWORDS,
});

export type NumericThreshold = 'confidence_threshold' | 'error_threshold' | 'budget_threshold';
export const NUMERIC_THRESHOLDS: readonly NumericThreshold[] = ['confidence_threshold', 'error_threshold', 'budget_threshold'];

/** Thrown with every problem found, each naming its path: `thresholds.error_threshold: ...`. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'ConfigError';
  }
}

/** Applies a partial update to thresholds, validating it; returns a new object, throws ConfigError. */
export function mergeThresholds(base: Readonly<Thresholds>, update: unknown, path = 'thresholds'): Thresholds {
  if (update === undefined) return { ...base };
  if (typeof update !== 'object' || update === null || Array.isArray(update)) throw new ConfigError([`${path}: expected an object`]);
  const u = update as Record<string, unknown>;
  const problems: string[] = [];
  const out: Thresholds = { ...base };
  for (const k of Object.keys(u)) {
    const v = u[k];
    if (v === undefined) continue;
    if (k === 'confidence_threshold') {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) problems.push(`${path}.${k}: expected a number from 0 to 1, got ${JSON.stringify(v)}`);
      else out.confidence_threshold = v;
    } else if (k === 'error_threshold') {
      if (!Number.isSafeInteger(v) || (v as number) < 1) problems.push(`${path}.${k}: expected a positive integer, got ${JSON.stringify(v)}`);
      else out.error_threshold = v as number;
    } else if (k === 'budget_threshold') {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push(`${path}.${k}: expected a positive number of US dollars, got ${JSON.stringify(v)}`);
      else out.budget_threshold = v;
    } else if (k === 'compliance_keywords') {
      if (!Array.isArray(v) || v.some((w) => typeof w !== 'string' || w.trim() === '')) problems.push(`${path}.${k}: expected a list of non-empty words`);
      else out.compliance_keywords = Object.freeze(v.map((w: string) => w.trim().toLowerCase()));
    } else problems.push(`${path}.${k}: unknown threshold (known: ${[...NUMERIC_THRESHOLDS, 'compliance_keywords'].join(', ')})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}
