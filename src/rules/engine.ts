/**
 * Evaluating stream rules over committed events, with every bit of state in the database.
 *
 * For a batch of rows: each rule turns the rows it matches into hits; in one transaction the
 * groups touched are locked (advisory locks, sorted), the hits inserted (a hit already stored is
 * skipped, so a batch delivered twice counts once), each group's aggregate computed over its
 * window (from `rule_hits`, or, without a sliding window, from the value stored at the group's last
 * evaluation plus the new hits), and compared with its tiers. A tier fires once: `rule_state` remembers
 * the highest tier fired per group and period. A sliding window re-arms when its value falls back
 * below the first tier; a calendar period starts afresh; an unbounded count re-arms on reset.
 */
import type { EventRow } from '../events/types.js';
import type { InterventionLevel } from '../interventions/levels.js';
import type { Queryable } from '../store/store.js';
import { compileRule, periodLabel, periodStart, renderTemplate, type CompiledRule, type Hit } from './compile.js';
import type { RuleSpec } from './ruleSchema.js';
import { aggregate, insertHits, keyOf, lockGroups, prunePeriods, pruneSliding, readStates, upsertStates, type GroupKey, type GroupState } from './sql.js';
import type { Thresholds } from './thresholds.js';

/** A rule reaching a tier for one group: what the lifecycle turns into an intervention. */
export interface Fire {
  rule: RuleSpec;
  group_key: string;
  bucket: string;
  /** `2026-01` for a monthly budget, '' without a calendar window. */
  period: string;
  value: number;
  threshold: number;
  tier: number;
  level: InterventionLevel;
  task_id: string | null;
  dedupe_key: string;
  title: string;
  message: string;
  /** Ids of the events of this batch that counted (at most 20). */
  event_ids: string[];
}

/** Sums of money in binary floating point drift (0.1 + 0.2): a tier is reached within this margin. */
export const SUM_EPSILON = 1e-9;

export class RuleEngine {
  private readonly compiled: CompiledRule[];
  private readonly byId: Map<string, CompiledRule>;

  constructor(
    rules: readonly RuleSpec[],
    private readonly thresholds: () => Readonly<Thresholds>,
  ) {
    this.compiled = rules.map(compileRule);
    this.byId = new Map(this.compiled.map((c) => [c.spec.id, c]));
  }

  rule(id: string): RuleSpec | undefined {
    return this.byId.get(id)?.spec;
  }

  hits(rows: readonly EventRow[]): Hit[] {
    const out: Hit[] = [];
    for (const row of rows) {
      for (const c of this.compiled) {
        const h = c.hit(row);
        if (h !== null) out.push(h);
      }
    }
    return out;
  }

  /** Evaluates rows inside the caller's transaction; returns the tiers that fired. */
  async evaluate(tx: Queryable, rows: readonly EventRow[], now: number): Promise<Fire[]> {
    const hits = this.hits(rows);
    if (hits.length === 0) return [];
    const byKey = new Map<string, Hit[]>();
    for (const h of hits) {
      const k = keyOf(h);
      const list = byKey.get(k);
      if (list) list.push(h);
      else byKey.set(k, [h]);
    }
    const groups = [...byKey.values()].map((l) => l[0]);
    await lockGroups(tx, groups);
    const fresh = new Set((await insertHits(tx, hits)).map((r) => `${r.rule_id}\u0000${r.event_id}`));
    const touched: { compiled: CompiledRule; hits: Hit[] }[] = [];
    for (const list of byKey.values()) {
      const news = list.filter((h) => fresh.has(`${h.rule_id}\u0000${h.event_id}`));
      if (news.length > 0) touched.push({ compiled: this.byId.get(list[0].rule_id)!, hits: news });
    }
    if (touched.length === 0) return [];
    const states = await readStates(tx, touched.map((t) => ({ ...t.hits[0], since: null, until: null })));
    const keys: GroupKey[] = touched.map(({ compiled, hits: hs }) => {
      const h = hs[0];
      const state = states.get(keyOf(h));
      if (compiled.slidingMs === null) return { rule_id: h.rule_id, group_key: h.group_key, bucket: h.bucket, since: null, until: null };
      // The window ends at the newest event counted so far: a late, old event cannot re-arm it.
      const until = hs.reduce((m, x) => Math.max(m, x.at), state?.last_at ?? -Infinity);
      return { rule_id: h.rule_id, group_key: h.group_key, bucket: h.bucket, since: until - compiled.slidingMs, until };
    });
    const values = await this.values(tx, keys, touched, states);
    const t = this.thresholds();
    const fires: Fire[] = [];
    const updates = keys.map((key, i) => {
      const { compiled, hits: hs } = touched[i];
      const value = values[i];
      const tiers = compiled.tiers(t);
      let reached = -1;
      tiers.forEach((tier, j) => {
        if (value >= tier.at - SUM_EPSILON) reached = j;
      });
      const fired = states.get(keyOf(key))?.fired_tier ?? -1;
      let next = Math.max(fired, reached);
      if (reached > fired) fires.push(this.fire(compiled, key, value, reached, tiers[reached], hs, rows));
      else if (reached === -1 && compiled.slidingMs !== null) next = -1;
      return { key, fired_tier: next, value, last_at: key.until };
    });
    await upsertStates(tx, updates, now);
    await pruneSliding(tx, keys);
    return fires;
  }

  /**
   * Each group's aggregate. A sliding window sums its hits from `rule_hits` (it drops old ones); a
   * calendar period or an unbounded count adds the new hits to the value stored at its last
   * evaluation (under the same group lock, so no evaluation in between is missed): a month's
   * budget must not re-read every call of the month at each batch. A group with no state yet is
   * summed from `rule_hits`.
   */
  private async values(tx: Queryable, keys: readonly GroupKey[], touched: readonly { compiled: CompiledRule; hits: Hit[] }[], states: ReadonlyMap<string, GroupState>): Promise<number[]> {
    const values = new Array<number>(keys.length);
    const summed: number[] = [];
    keys.forEach((key, i) => {
      const state = states.get(keyOf(key));
      if (touched[i].compiled.slidingMs !== null || state === undefined) summed.push(i);
      else values[i] = touched[i].hits.reduce((sum, h) => sum + h.value, state.value);
    });
    if (summed.length > 0) {
      const sums = await aggregate(tx, summed.map((i) => keys[i]));
      summed.forEach((i, j) => (values[i] = sums[j]));
    }
    return values;
  }

  private fire(c: CompiledRule, key: GroupKey, value: number, tier: number, at: { at: number; level: InterventionLevel }, hs: Hit[], rows: readonly EventRow[]): Fire {
    const ids = new Set(hs.map((h) => h.event_id));
    const newest = [...rows].reverse().find((r) => ids.has(r.id) && r.event_type === c.spec.event_type)!;
    const period = periodLabel(c.calendar, key.bucket);
    const vars: Record<string, unknown> = {
      ...newest.metadata,
      rule: c.spec.id,
      group: key.group_key,
      period,
      value,
      threshold: at.at,
      level: at.level,
    };
    const taskField = c.spec.task_field ?? 'task_id';
    const taskId = newest.metadata[taskField];
    return {
      rule: c.spec,
      group_key: key.group_key,
      bucket: key.bucket,
      period,
      value,
      threshold: at.at,
      tier,
      level: at.level,
      task_id: typeof taskId === 'string' ? taskId : null,
      dedupe_key: renderTemplate(c.spec.dedupe_key, vars),
      title: renderTemplate(c.spec.title ?? `${c.spec.reason}: rule ${c.spec.id} reached {threshold}`, vars),
      message: renderTemplate(c.spec.message ?? `Rule ${c.spec.id} reached {value} (tier {level} at {threshold})`, vars),
      event_ids: [...ids].slice(0, 20),
    };
  }

  /**
   * Forgets calendar periods older than the previous one (hits and state): the current period and
   * the one before it are kept, so a late event of last month still counts. Returns hits removed.
   */
  async prunePeriods(tx: Queryable, now: number): Promise<number> {
    let n = 0;
    for (const c of this.compiled) {
      if (c.calendar === null) continue;
      const current = Date.parse(periodStart(c.calendar, now) + 'T00:00:00Z');
      n += await prunePeriods(tx, c.spec.id, periodStart(c.calendar, current - 1));
    }
    return n;
  }

  /**
   * The current value of a rule for a group (errors counted for a task, spend this month), as
   * the checks need it. Calendar windows: the period holding `now`; sliding: the window ending now.
   */
  async currentValue(db: Queryable, ruleId: string, groupKey: string, now: number): Promise<number> {
    const c = this.byId.get(ruleId);
    if (c === undefined) return 0;
    const bucket = c.calendar === null ? '' : periodStart(c.calendar, now);
    const since = c.slidingMs === null ? null : now - c.slidingMs;
    const [v] = await aggregate(db, [{ rule_id: ruleId, group_key: groupKey, bucket, since, until: null }]);
    return v;
  }
}
