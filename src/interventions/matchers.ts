/**
 * Matchers: the one way routes and silences select interventions. A matcher names a field of the
 * intervention (`level`, `reasons`, `task_id`, `dedupe_key`, `source`, `title`, or `context.<path>`),
 * an operator and a value. On `reasons` (a list), `eq` and `in` hold when any reason matches.
 */
import { ConfigError } from '../rules/thresholds.js';
import { INTERVENTION_LEVELS, INTERVENTION_RANK, isInterventionLevel, type InterventionLevel } from './levels.js';

export const MATCHER_OPS = ['eq', 'ne', 'in', 'regex', 'gte', 'lte', 'exists'] as const;
export type MatcherOp = (typeof MATCHER_OPS)[number];

export interface Matcher {
  field: string;
  /** Default `eq`. */
  op?: MatcherOp;
  value?: unknown;
}

/** What matchers see of an intervention. */
export interface AlertView {
  level: InterventionLevel;
  reasons: readonly string[];
  task_id: string | null;
  dedupe_key: string;
  source: string;
  title: string;
  context: Record<string, unknown>;
}

const TOP_FIELDS = new Set(['level', 'reasons', 'task_id', 'dedupe_key', 'source', 'title']);

function fieldValue(view: AlertView, field: string): unknown {
  if (TOP_FIELDS.has(field)) return view[field as keyof AlertView];
  let v: unknown = view.context;
  for (const part of field.slice('context.'.length).split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function compare(field: string, a: unknown, b: unknown): number | null {
  if (field === 'level' && isInterventionLevel(a) && isInterventionLevel(b)) return INTERVENTION_RANK[a] - INTERVENTION_RANK[b];
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return null;
}

function one(m: Matcher, v: unknown): boolean {
  switch (m.op ?? 'eq') {
    case 'eq':
      return v === m.value;
    case 'ne':
      return v !== m.value;
    case 'in':
      return (m.value as unknown[]).includes(v);
    case 'regex':
      return typeof v === 'string' && new RegExp(`^(?:${m.value as string})$`).test(v);
    case 'gte': {
      const c = compare(m.field, v, m.value);
      return c !== null && c >= 0;
    }
    case 'lte': {
      const c = compare(m.field, v, m.value);
      return c !== null && c <= 0;
    }
    case 'exists':
      return v !== undefined && v !== null;
  }
}

export function matches(view: AlertView, m: Matcher): boolean {
  const v = fieldValue(view, m.field);
  if (Array.isArray(v)) {
    const op = m.op ?? 'eq';
    if (op === 'ne') return !v.some((x) => one({ ...m, op: 'eq' }, x));
    if (op === 'exists') return v.length > 0;
    return v.some((x) => one(m, x));
  }
  return one(m, v);
}

/** All matchers hold (an empty list matches everything). */
export function matchesAll(view: AlertView, ms: readonly Matcher[]): boolean {
  return ms.every((m) => matches(view, m));
}

/** Problems with a list of matchers, each naming its path. */
export function matcherProblems(input: unknown, path: string): string[] {
  if (!Array.isArray(input)) return [`${path}: expected a list of {field, op, value}`];
  const p: string[] = [];
  input.forEach((m: unknown, i) => {
    const mp = `${path}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return void p.push(`${mp}: expected {field, op, value}`);
    const { field, op = 'eq', value } = m as Record<string, unknown>;
    for (const k of Object.keys(m)) if (!['field', 'op', 'value'].includes(k)) p.push(`${mp}.${k}: unknown key (known: field, op, value)`);
    if (typeof field !== 'string' || !(TOP_FIELDS.has(field) || /^context\.[A-Za-z0-9_.]+$/.test(field))) {
      p.push(`${mp}.field: expected one of ${[...TOP_FIELDS].join(', ')} or context.<path>, got ${JSON.stringify(field)}`);
    }
    if (!MATCHER_OPS.includes(op as MatcherOp)) return void p.push(`${mp}.op: expected one of ${MATCHER_OPS.join(', ')}, got ${JSON.stringify(op)}`);
    if (op === 'exists') return;
    if (value === undefined) return void p.push(`${mp}.value: required for op "${String(op)}"`);
    if (op === 'in' && !Array.isArray(value)) p.push(`${mp}.value: expected a list for op "in"`);
    if (op === 'regex') {
      if (typeof value !== 'string') p.push(`${mp}.value: expected a regular expression string`);
      else {
        try {
          new RegExp(value);
        } catch (err) {
          p.push(`${mp}.value: invalid regular expression: ${(err as Error).message}`);
        }
      }
    }
    if (field === 'level' && (op === 'eq' || op === 'ne' || op === 'gte' || op === 'lte') && !isInterventionLevel(value)) {
      p.push(`${mp}.value: expected one of ${INTERVENTION_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
    }
  });
  return p;
}

export function validateMatchers(input: unknown, path: string): Matcher[] {
  const p = matcherProblems(input, path);
  if (p.length > 0) throw new ConfigError(p);
  return input as Matcher[];
}
