/**
 * Stream rules are data: what a config file declares, validated here with errors naming the path
 * (`rules[1].tiers[0].level: expected one of INFO, WARNING, URGENT, CRITICAL, got "HIGH"`).
 *
 *   id          unique name, lower case: `errors_per_task`
 *   event_type  the event type the rule counts: `task_failed`
 *   where       optional conditions on the event's fields, all of which must hold
 *   aggregate   `count`, or `{sum: field}` (a numeric field, e.g. `cost_usd`)
 *   window      `10m`, `1h`, `7d` (sliding, ending at the newest event), `day` / `week` / `month`
 *               (calendar periods, UTC), or absent: since the group was last reset
 *   group_by    optional field: counted separately per value (`task_id`, `user_id`)
 *   tiers       ascending thresholds, each with a level; `at` is a number or a named threshold
 *               times a factor (`{threshold: budget_threshold, factor: 0.8}`)
 *   reason      the reason code of the interventions it opens
 *   dedupe_key  template: `{rule}`, `{group}`, `{period}`, `{value}`, `{level}`, or an event field
 *   title, message  optional templates, same placeholders
 */
import { INTERVENTION_LEVELS, INTERVENTION_RANK, isInterventionLevel, type InterventionLevel } from '../interventions/levels.js';
import { ConfigError, NUMERIC_THRESHOLDS, type NumericThreshold } from './thresholds.js';

export const CONDITION_OPS = ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'exists'] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

export interface Condition {
  field: string;
  op: ConditionOp;
  value?: unknown;
}

export type TierAt = number | { threshold: NumericThreshold; factor?: number };

export interface Tier {
  at: TierAt;
  level: InterventionLevel;
}

export type Aggregate = 'count' | { sum: string };

export interface RuleSpec {
  id: string;
  description?: string;
  event_type: string;
  where?: Condition[];
  aggregate: Aggregate;
  window?: string;
  group_by?: string;
  tiers: Tier[];
  reason: string;
  dedupe_key: string;
  title?: string;
  message?: string;
  /** The field holding the task id an intervention is about; default `task_id`. */
  task_field?: string;
}

export const CALENDAR_WINDOWS = ['day', 'week', 'month'] as const;
export type CalendarUnit = (typeof CALENDAR_WINDOWS)[number];

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m` → 600000; null when not a duration. Units: ms, s, m, h, d. */
export function parseDuration(s: unknown): number | null {
  if (typeof s === 'number' && Number.isSafeInteger(s) && s > 0) return s;
  if (typeof s !== 'string') return null;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  return ms > 0 ? ms : null;
}

const ID = /^[a-z][a-z0-9_]{0,63}$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const REASON = /^[A-Z][A-Z0-9_]{0,63}$/;
const KNOWN_KEYS = new Set(['id', 'description', 'event_type', 'where', 'aggregate', 'window', 'group_by', 'tiers', 'reason', 'dedupe_key', 'title', 'message', 'task_field']);

const j = (v: unknown): string => JSON.stringify(v) ?? String(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkString(p: string[], path: string, v: unknown, re: RegExp | null, what: string, required: boolean): void {
  if (v === undefined) {
    if (required) p.push(`${path}: required`);
    return;
  }
  if (typeof v !== 'string' || v === '' || (re !== null && !re.test(v))) p.push(`${path}: expected ${what}, got ${j(v)}`);
}

function checkCondition(p: string[], path: string, c: unknown): void {
  if (!isObj(c)) return void p.push(`${path}: expected {field, op, value}`);
  checkString(p, `${path}.field`, c.field, FIELD, 'a field name', true);
  if (!CONDITION_OPS.includes(c.op as ConditionOp)) p.push(`${path}.op: expected one of ${CONDITION_OPS.join(', ')}, got ${j(c.op)}`);
  else if (c.op === 'in' && !Array.isArray(c.value)) p.push(`${path}.value: expected a list for op "in"`);
  else if (['gt', 'gte', 'lt', 'lte'].includes(c.op as string) && typeof c.value !== 'number') p.push(`${path}.value: expected a number for op "${String(c.op)}"`);
  else if (c.op !== 'exists' && c.value === undefined) p.push(`${path}.value: required for op "${String(c.op)}"`);
}

function checkTierAt(p: string[], path: string, at: unknown): number | null {
  if (typeof at === 'number') {
    if (!(Number.isFinite(at) && at > 0)) p.push(`${path}: expected a positive number, got ${j(at)}`);
    return null;
  }
  if (!isObj(at)) return void p.push(`${path}: expected a positive number or {threshold, factor}, got ${j(at)}`), null;
  if (!NUMERIC_THRESHOLDS.includes(at.threshold as NumericThreshold)) p.push(`${path}.threshold: expected one of ${NUMERIC_THRESHOLDS.join(', ')}, got ${j(at.threshold)}`);
  if (at.factor !== undefined && !(typeof at.factor === 'number' && Number.isFinite(at.factor) && at.factor > 0)) p.push(`${path}.factor: expected a positive number, got ${j(at.factor)}`);
  for (const k of Object.keys(at)) if (k !== 'threshold' && k !== 'factor') p.push(`${path}.${k}: unknown key (known: threshold, factor)`);
  return null;
}

function checkRule(p: string[], path: string, r: unknown): void {
  if (!isObj(r)) return void p.push(`${path}: expected an object`);
  for (const k of Object.keys(r)) if (!KNOWN_KEYS.has(k)) p.push(`${path}.${k}: unknown key (known: ${[...KNOWN_KEYS].join(', ')})`);
  checkString(p, `${path}.id`, r.id, ID, 'a lower-case name ([a-z][a-z0-9_]*)', true);
  checkString(p, `${path}.event_type`, r.event_type, /^[a-z][a-z0-9_.]{0,63}$/, 'an event type', true);
  checkString(p, `${path}.reason`, r.reason, REASON, 'an upper-case reason code ([A-Z][A-Z0-9_]*)', true);
  checkString(p, `${path}.dedupe_key`, r.dedupe_key, null, 'a template such as "{rule}:{group}"', true);
  for (const k of ['description', 'title', 'message'] as const) checkString(p, `${path}.${k}`, r[k], null, 'a string', false);
  for (const k of ['group_by', 'task_field'] as const) checkString(p, `${path}.${k}`, r[k], FIELD, 'a field name', false);
  if (r.where !== undefined) {
    if (!Array.isArray(r.where)) p.push(`${path}.where: expected a list of conditions`);
    else r.where.forEach((c, i) => checkCondition(p, `${path}.where[${i}]`, c));
  }
  if (r.aggregate === undefined) p.push(`${path}.aggregate: required`);
  else if (r.aggregate !== 'count' && !(isObj(r.aggregate) && typeof r.aggregate.sum === 'string' && FIELD.test(r.aggregate.sum))) {
    p.push(`${path}.aggregate: expected "count" or {sum: field}, got ${j(r.aggregate)}`);
  }
  if (r.window !== undefined && !CALENDAR_WINDOWS.includes(r.window as CalendarUnit) && parseDuration(r.window) === null) {
    p.push(`${path}.window: expected a duration (30s, 10m, 1h, 7d) or one of ${CALENDAR_WINDOWS.join(', ')}, got ${j(r.window)}`);
  }
  if (!Array.isArray(r.tiers) || r.tiers.length === 0) return void p.push(`${path}.tiers: expected a non-empty list of {at, level}`);
  let prevRank = -1;
  r.tiers.forEach((t: unknown, i: number) => {
    const tp = `${path}.tiers[${i}]`;
    if (!isObj(t)) return void p.push(`${tp}: expected {at, level}`);
    checkTierAt(p, `${tp}.at`, t.at);
    if (!isInterventionLevel(t.level)) return void p.push(`${tp}.level: expected one of ${INTERVENTION_LEVELS.join(', ')}, got ${j(t.level)}`);
    if (INTERVENTION_RANK[t.level] <= prevRank) p.push(`${tp}.level: tiers must rise in level, ${t.level} does not`);
    prevRank = INTERVENTION_RANK[t.level];
  });
}

/** Validates a list of rules; throws ConfigError listing every problem. Returns them typed. */
export function validateRules(input: unknown, path = 'rules'): RuleSpec[] {
  const p: string[] = [];
  if (!Array.isArray(input)) throw new ConfigError([`${path}: expected a list of rules`]);
  input.forEach((r, i) => checkRule(p, `${path}[${i}]`, r));
  const seen = new Set<string>();
  input.forEach((r, i) => {
    const id = isObj(r) ? r.id : undefined;
    if (typeof id === 'string' && seen.has(id)) p.push(`${path}[${i}].id: duplicate rule id "${id}"`);
    if (typeof id === 'string') seen.add(id);
  });
  if (p.length > 0) throw new ConfigError(p);
  return input as RuleSpec[];
}
