/**
 * Interventions configuration: thresholds, stream rules, escalation, routes. Every option has a
 * named default; `resolveInterventionConfig` validates a config file's `interventions` section and
 * throws one ConfigError listing every problem by path.
 */
import { DEFAULT_RULES } from '../rules/defaults.js';
import { parseDuration, validateRules, type RuleSpec } from '../rules/ruleSchema.js';
import { ConfigError, DEFAULT_THRESHOLDS, mergeThresholds, type Thresholds } from '../rules/thresholds.js';
import { INTERVENTION_LEVELS, type InterventionLevel } from './levels.js';
import { DEFAULT_ROUTES, validateRoutes, type Route } from './routing.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface LevelPolicy {
  /** Notify again after this long while open and unacknowledged; null: never. */
  repeat_after_ms: number | null;
  /** Raise one level after this long at this level while open and unacknowledged; null: never. */
  escalate_after_ms: number | null;
}

export type EscalationPolicy = Record<InterventionLevel, LevelPolicy>;

/** Defaults: INFO waits for people; the higher the level, the sooner it repeats and escalates. */
export const DEFAULT_ESCALATION: Readonly<EscalationPolicy> = Object.freeze({
  INFO: { repeat_after_ms: null, escalate_after_ms: null },
  WARNING: { repeat_after_ms: 4 * HOUR, escalate_after_ms: 24 * HOUR },
  URGENT: { repeat_after_ms: 1 * HOUR, escalate_after_ms: 4 * HOUR },
  CRITICAL: { repeat_after_ms: 30 * MINUTE, escalate_after_ms: null },
});

/** How often the service's timer runs tick() (escalation and repeats), ms. */
export const DEFAULT_TICK_INTERVAL_MS = 15_000;
/** At most this many interventions are escalated or re-notified per tick and phase. */
export const TICK_BATCH = 100;

export interface InterventionConfig {
  thresholds: Thresholds;
  rules: RuleSpec[];
  escalation: EscalationPolicy;
  routes: Route[];
  tick_interval_ms: number;
}

export const DEFAULT_CONFIG: Readonly<InterventionConfig> = Object.freeze({
  thresholds: { ...DEFAULT_THRESHOLDS },
  rules: [...DEFAULT_RULES],
  escalation: DEFAULT_ESCALATION,
  routes: [...DEFAULT_ROUTES],
  tick_interval_ms: DEFAULT_TICK_INTERVAL_MS,
});

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `"30m"`, `1800000` or null (never). */
function duration(p: string[], path: string, v: unknown, dflt: number | null): number | null {
  if (v === undefined) return dflt;
  if (v === null || v === 'never') return null;
  const ms = parseDuration(v);
  if (ms === null) p.push(`${path}: expected a duration (30s, 10m, 4h, 1d), milliseconds, or null for never; got ${JSON.stringify(v)}`);
  return ms;
}

function escalation(p: string[], input: unknown): EscalationPolicy {
  const out = { ...DEFAULT_ESCALATION } as EscalationPolicy;
  if (input === undefined) return out;
  if (!isObj(input)) return p.push('escalation: expected an object keyed by level'), out;
  for (const [level, v] of Object.entries(input)) {
    if (!INTERVENTION_LEVELS.includes(level as InterventionLevel)) {
      p.push(`escalation.${level}: unknown level (known: ${INTERVENTION_LEVELS.join(', ')})`);
      continue;
    }
    if (!isObj(v)) {
      p.push(`escalation.${level}: expected {repeat_after, escalate_after}`);
      continue;
    }
    for (const k of Object.keys(v)) if (k !== 'repeat_after' && k !== 'escalate_after') p.push(`escalation.${level}.${k}: unknown key (known: repeat_after, escalate_after)`);
    const base = DEFAULT_ESCALATION[level as InterventionLevel];
    out[level as InterventionLevel] = {
      repeat_after_ms: duration(p, `escalation.${level}.repeat_after`, v.repeat_after, base.repeat_after_ms),
      escalate_after_ms: level === 'CRITICAL' && v.escalate_after !== undefined && v.escalate_after !== null
        ? (p.push('escalation.CRITICAL.escalate_after: CRITICAL is the highest level; it cannot escalate'), null)
        : duration(p, `escalation.${level}.escalate_after`, v.escalate_after, base.escalate_after_ms),
    };
  }
  return out;
}

/**
 * Builds the configuration from a config file's `interventions` section (all keys optional):
 * `{thresholds, rules, escalation: {LEVEL: {repeat_after, escalate_after}}, routes, tick_interval}`.
 * `rules` and `routes`, when given, replace the defaults (DEFAULT_RULES and DEFAULT_ROUTES are exported to extend).
 */
export function resolveInterventionConfig(input: unknown = {}): InterventionConfig {
  if (!isObj(input)) throw new ConfigError(['interventions: expected an object']);
  const p: string[] = [];
  for (const k of Object.keys(input)) {
    if (!['thresholds', 'rules', 'escalation', 'routes', 'tick_interval'].includes(k)) p.push(`${k}: unknown key (known: thresholds, rules, escalation, routes, tick_interval)`);
  }
  const collect = <T>(fn: () => T, dflt: T): T => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      p.push(...err.problems);
      return dflt;
    }
  };
  const thresholds = collect(() => mergeThresholds(DEFAULT_THRESHOLDS, input.thresholds), { ...DEFAULT_THRESHOLDS });
  const rules = input.rules === undefined ? [...DEFAULT_RULES] : collect(() => validateRules(input.rules), []);
  const routes = input.routes === undefined ? [...DEFAULT_ROUTES] : collect(() => validateRoutes(input.routes), []);
  const esc = escalation(p, input.escalation);
  const tick = duration(p, 'tick_interval', input.tick_interval, DEFAULT_TICK_INTERVAL_MS) ?? DEFAULT_TICK_INTERVAL_MS;
  if (p.length > 0) throw new ConfigError(p);
  return { thresholds, rules, escalation: esc, routes, tick_interval_ms: tick };
}
