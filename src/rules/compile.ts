/**
 * Turning a rule's data into functions: which rows it counts, their group, value and period
 * (bucket), its tiers under the current thresholds, and its templates.
 */
import type { EventRow } from '../events/types.js';
import type { InterventionLevel } from '../interventions/levels.js';
import { CALENDAR_WINDOWS, parseDuration, type CalendarUnit, type Condition, type RuleSpec, type TierAt } from './ruleSchema.js';
import type { Thresholds } from './thresholds.js';

/** A row a rule counts. */
export interface Hit {
  rule_id: string;
  event_id: string;
  group_key: string;
  /** '' for sliding and unbounded windows; the period's start date (`2026-01-01`) for calendar ones. */
  bucket: string;
  at: number;
  value: number;
}

export interface CompiledRule {
  spec: RuleSpec;
  /** Sliding window length, ms; null for calendar and unbounded windows. */
  slidingMs: number | null;
  calendar: CalendarUnit | null;
  /** The hit a row makes, or null when the rule does not count it. */
  hit(row: EventRow): Hit | null;
  /** Tiers under the current thresholds, ascending. */
  tiers(t: Readonly<Thresholds>): { at: number; level: InterventionLevel }[];
}

function holds(c: Condition, v: unknown): boolean {
  switch (c.op) {
    case 'exists':
      return v !== undefined && v !== null;
    case 'eq':
      return v === c.value;
    case 'ne':
      return v !== c.value;
    case 'in':
      return (c.value as unknown[]).includes(v);
    case 'gt':
      return typeof v === 'number' && v > (c.value as number);
    case 'gte':
      return typeof v === 'number' && v >= (c.value as number);
    case 'lt':
      return typeof v === 'number' && v < (c.value as number);
    case 'lte':
      return typeof v === 'number' && v <= (c.value as number);
  }
}

/** The UTC start of the calendar period holding `t`, as `YYYY-MM-DD`; weeks start on Monday. */
export function periodStart(unit: CalendarUnit, t: number): string {
  const d = new Date(t);
  let start: number;
  if (unit === 'month') start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  else {
    start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    if (unit === 'week') start -= ((d.getUTCDay() + 6) % 7) * 86_400_000;
  }
  return new Date(start).toISOString().slice(0, 10);
}

/** How a period is shown in titles: `2026-01` for a month, the start date otherwise. */
export function periodLabel(unit: CalendarUnit | null, bucket: string): string {
  if (unit === null) return '';
  return unit === 'month' ? bucket.slice(0, 7) : bucket;
}

export function resolveAt(at: TierAt, t: Readonly<Thresholds>): number {
  return typeof at === 'number' ? at : t[at.threshold] * (at.factor ?? 1);
}

export function compileRule(spec: RuleSpec): CompiledRule {
  const calendar = CALENDAR_WINDOWS.includes(spec.window as CalendarUnit) ? (spec.window as CalendarUnit) : null;
  const slidingMs = spec.window !== undefined && calendar === null ? parseDuration(spec.window) : null;
  const where = spec.where ?? [];
  const sumField = spec.aggregate === 'count' ? null : spec.aggregate.sum;
  return {
    spec,
    slidingMs,
    calendar,
    hit(row) {
      if (row.event_type !== spec.event_type) return null;
      const m = row.metadata;
      for (const c of where) if (!holds(c, m[c.field])) return null;
      let group = '';
      if (spec.group_by !== undefined) {
        const g = m[spec.group_by];
        if (g === undefined || g === null || g === '') return null;
        group = typeof g === 'string' ? g : JSON.stringify(g);
      }
      let value = 1;
      if (sumField !== null) {
        const v = m[sumField];
        if (typeof v !== 'number' || !Number.isFinite(v)) return null;
        value = v;
      }
      const bucket = calendar === null ? '' : periodStart(calendar, row.time);
      return { rule_id: spec.id, event_id: row.id, group_key: group, bucket, at: row.time, value };
    },
    tiers: (t) => spec.tiers.map((tier) => ({ at: resolveAt(tier.at, t), level: tier.level })),
  };
}

/** Renders `{name}` placeholders from `vars`; unknown names render as `?`. */
export function renderTemplate(template: string, vars: Record<string, unknown>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined || v === null) return '?';
    if (typeof v === 'number') return String(Math.round(v * 100) / 100);
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}
