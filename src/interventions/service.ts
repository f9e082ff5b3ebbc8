/**
 * The interventions service: the one object the HTTP routes, the CLI and the SDK wrap. Each
 * method validates its input, runs one transaction, and answers plain JSON-able values; failures
 * are InterventionError with a stable code (invalid, not_found, conflict).
 *
 * Pipeline: committed rows → evaluate (stream rules) → trigger (lifecycle) → notify (routing,
 * silences) → DeliveryRecorder (the outbox); tick() drives repeats and escalation.
 */
import pino, { type Logger } from 'pino';
import { validateBuiltin, formatProblems } from '../events/validate.js';
import { insertIdempotent } from '../events/insertEvents.js';
import type { EventRow } from '../events/types.js';
import { isUuid, uuidv7 } from '../events/uuid7.js';
import { checkInterventionNeeded, validateCheckInput, type CheckContext, type CheckResult, type Reason, type TaskInput } from '../rules/check.js';
import { BUDGET_RULE_ID, ERRORS_RULE_ID } from '../rules/defaults.js';
import { RuleEngine, type Fire } from '../rules/engine.js';
import { resetGroup } from '../rules/sql.js';
import { mergeThresholds, type Thresholds } from '../rules/thresholds.js';
import type { Store, Tx } from '../store/store.js';
import { systemClock, type Clock } from '../util/clock.js';
import { DEFAULT_CONFIG, TICK_BATCH, type InterventionConfig } from './config.js';
import { MemoryDeliveryRecorder, type DeliveryRecorder, type DeliveryView } from './deliveries.js';
import { InterventionError, validating } from './errors.js';
import { INTERVENTION_LEVELS, isInterventionLevel, type InterventionLevel } from './levels.js';
import { acknowledge, escalateDue, repeatDue, resolve, trigger, type ActionResult, type TickResult, type TriggerOutcome } from './lifecycle.js';
import type { NotifyDeps, RoutingDecision } from './notify.js';
import { activeSilences, expireSilence, insertSilence, listSilences, validateSilence, type Silence } from './silences.js';
import { getIntervention, listInterventions, listNotifications, listOccurrences } from './sql.js';
import { STATUSES, type Intervention, type InterventionStatus, type NotificationRecord, type Occurrence, type TriggerInput } from './types.js';

export interface InterventionServiceOptions {
  store: Store;
  /** From resolveInterventionConfig; default DEFAULT_CONFIG. */
  config?: InterventionConfig;
  clock?: Clock;
  logger?: Logger;
  /** Where deliveries go; default an in-process MemoryDeliveryRecorder (until the outbox). */
  recorder?: DeliveryRecorder;
}

export interface CheckOutcome extends CheckResult {
  /** The intervention opened or updated (null when none was needed or on a dry run). */
  intervention: Intervention | null;
  created: boolean;
  decision: RoutingDecision | null;
  /** What the checks read from the database: errors recorded for the task, spend this period. */
  facts: { error_count: number; budget_used: number | null };
}

export interface OpenInput {
  level: InterventionLevel;
  title: string;
  message?: string;
  task_id?: string | null;
  /** Reason codes; default ['MANUAL']. */
  reasons?: string[];
  context?: Record<string, unknown>;
  /** Default `manual:<task_id>` when a task is given, else a fresh key (never merged). */
  dedupe_key?: string;
  by: string;
}

export interface ListQuery {
  status?: InterventionStatus;
  level?: InterventionLevel;
  task_id?: string;
  cursor?: string;
  /** Default 50, at most 500. */
  limit?: number;
}

export interface InterventionDetail {
  intervention: Intervention;
  occurrences: Occurrence[];
  notifications: NotificationRecord[];
  deliveries: DeliveryView[];
}

export interface EvaluateResult {
  fires: Fire[];
  triggered: TriggerOutcome[];
}

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;

const encodeCursor = (seq: number): string => Buffer.from(`i:${seq}`).toString('base64url');
function decodeCursor(c: string): number {
  const m = /^i:(\d{1,18})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) throw InterventionError.invalid([`cursor: not a cursor this API returned: ${JSON.stringify(c.slice(0, 40))}`]);
  return Number(m[1]);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class InterventionService {
  readonly store: Store;
  readonly recorder: DeliveryRecorder;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly config: InterventionConfig;
  private readonly engine: RuleEngine;
  private readonly deps: NotifyDeps;
  private pending: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<unknown> | null = null;
  private closed = false;

  constructor(opts: InterventionServiceOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? pino({ name: 'vigil' })).child({ component: 'interventions' });
    const c = opts.config ?? DEFAULT_CONFIG;
    this.config = { ...c, thresholds: { ...c.thresholds }, rules: [...c.rules], routes: [...c.routes], escalation: { ...c.escalation } };
    this.recorder = opts.recorder ?? new MemoryDeliveryRecorder();
    this.engine = new RuleEngine(this.config.rules, () => this.config.thresholds);
    this.deps = { recorder: this.recorder, routes: () => this.config.routes, log: this.log.child({ stage: 'notify' }) };
  }

  // ---- deciding -------------------------------------------------------------------------------

  /** The seven checks; opens (or adds an occurrence to) the task's intervention unless dry_run. */
  async check(task: TaskInput, context: CheckContext = {}, opts: { dry_run?: boolean } = {}): Promise<CheckOutcome> {
    const problems = validateCheckInput(task, context);
    if (problems.length > 0) throw InterventionError.invalid(problems);
    const now = this.clock.now();
    const error_count = await this.engine.currentValue(this.store, ERRORS_RULE_ID, task.id, now);
    const given = context?.budget_used;
    const budget_used = typeof given === 'number' ? given : this.engine.rule(BUDGET_RULE_ID) ? await this.budgetUsed() : null;
    const ctx: CheckContext = { ...context, ...(budget_used === null ? {} : { budget_used }) };
    const result = checkInterventionNeeded(task, ctx, this.config.thresholds, { error_count });
    const out: CheckOutcome = { ...result, intervention: null, created: false, decision: null, facts: { error_count, budget_used } };
    if (!result.needed || opts.dry_run) return out;
    const t: TriggerInput = {
      dedupe_key: `task:${task.id}`,
      task_id: task.id,
      level: result.level!,
      reasons: result.reasons,
      title: `Intervention Required for Task ${task.id}`,
      message: result.reasons.map((r) => `${r.code}: ${r.detail}`).join('; '),
      context: {
        ...ctx,
        task_summary: { text: task.text?.slice(0, 200) ?? null, priority: task.priority ?? null, confidence: task.confidence ?? null, agent: task.agent ?? null },
      },
      source: 'check',
    };
    const o = await this.store.transaction((tx) => trigger(tx, this.deps, t, now));
    return { ...out, intervention: o.intervention, created: o.created, decision: o.decision };
  }

  /** Opens an intervention by hand (or adds an occurrence to the one with the same dedupe key). */
  async open(input: OpenInput): Promise<TriggerOutcome> {
    const p: string[] = [];
    if (!isObj(input)) throw InterventionError.invalid(['expected an object']);
    if (!isInterventionLevel(input.level)) p.push(`level: expected one of ${INTERVENTION_LEVELS.join(', ')}, got ${JSON.stringify(input.level)}`);
    if (typeof input.title !== 'string' || input.title.trim() === '') p.push('title: required');
    if (typeof input.by !== 'string' || input.by.trim() === '') p.push('by: required');
    if (input.message !== undefined && typeof input.message !== 'string') p.push('message: expected a string');
    if (input.task_id !== undefined && input.task_id !== null && typeof input.task_id !== 'string') p.push('task_id: expected a string');
    if (input.reasons !== undefined && (!Array.isArray(input.reasons) || input.reasons.some((r) => typeof r !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(r)))) {
      p.push('reasons: expected a list of upper-case reason codes');
    }
    if (input.context !== undefined && !isObj(input.context)) p.push('context: expected an object');
    if (input.dedupe_key !== undefined && (typeof input.dedupe_key !== 'string' || input.dedupe_key === '')) p.push('dedupe_key: expected a non-empty string');
    if (p.length > 0) throw InterventionError.invalid(p);
    const now = this.clock.now();
    const task = input.task_id ?? null;
    const reasons: Reason[] = (input.reasons ?? ['MANUAL']).map((code) => ({ code, level: input.level, detail: `opened by ${input.by}` }));
    const t: TriggerInput = {
      dedupe_key: input.dedupe_key ?? (task !== null ? `manual:${task}` : `manual:${uuidv7(now)}`),
      task_id: task,
      level: input.level,
      reasons,
      title: input.title,
      message: input.message ?? input.title,
      context: { ...(input.context ?? {}), opened_by: input.by },
      source: 'manual',
    };
    return this.store.transaction((tx) => trigger(tx, this.deps, t, now));
  }

  // ---- stream rules ---------------------------------------------------------------------------

  /** Evaluates the stream rules over committed rows, in a transaction of its own. */
  evaluate(rows: readonly EventRow[]): Promise<EvaluateResult> {
    if (this.engine.hits(rows).length === 0) return Promise.resolve({ fires: [], triggered: [] });
    return this.store.transaction((tx) => this.evaluateIn(tx, rows));
  }

  /** Evaluates inside the caller's transaction (the server's group commit: exactly once with the insert). */
  async evaluateIn(tx: Tx, rows: readonly EventRow[]): Promise<EvaluateResult> {
    const now = this.clock.now();
    const fires = await this.engine.evaluate(tx, rows, now);
    const triggered: TriggerOutcome[] = [];
    // Dedupe-key locks are taken in one order by every evaluator (after the sorted group locks): no deadlock.
    fires.sort((a, b) => (a.dedupe_key < b.dedupe_key ? -1 : a.dedupe_key > b.dedupe_key ? 1 : 0));
    for (const f of fires) {
      this.log.info({ rule: f.rule.id, group: f.group_key, period: f.period, value: f.value, threshold: f.threshold, level: f.level }, 'rule fired');
      triggered.push(await trigger(tx, this.deps, fireToTrigger(f), now));
    }
    return { fires, triggered };
  }

  /** A writer `onCommit` hook: evaluations run one after another; failures are logged. */
  readonly onCommit = (rows: readonly EventRow[]): void => {
    if (this.closed) return;
    this.pending = this.pending
      .then(() => this.evaluate(rows))
      .catch((err: Error) => this.log.error({ err: { message: err.message, code: (err as { code?: string }).code }, rows: rows.length }, 'rule evaluation failed'));
  };

  /** Resolves when every evaluation handed to onCommit so far has finished. */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.pending;
      await seen;
    } while (seen !== this.pending);
  }

  /** Records an error for a task (a `task_failed` event) and evaluates the rules on it; returns the count. */
  async recordError(taskId: string, error: unknown): Promise<{ event_id: string; error_count: number; triggered: TriggerOutcome[] }> {
    const now = this.clock.now();
    const e = error instanceof Error ? { message: error.message, type: error.name } : isObj(error) ? { message: error.message, type: error.type } : { message: error };
    const v = validateBuiltin('task_failed', { task_id: taskId, error_message: typeof e.message === 'string' ? e.message : String(e.message), error_type: typeof e.type === 'string' && e.type !== '' ? e.type : undefined }, undefined, now);
    if (!v.ok) throw InterventionError.invalid([formatProblems(v.problems)]);
    const { triggered } = await this.store.transaction(async (tx) => {
      await insertIdempotent(tx, [v.row]);
      return this.evaluateIn(tx, [v.row]);
    });
    return { event_id: v.row.id, error_count: await this.errorCount(taskId), triggered };
  }

  /** Errors counted for a task by the errors rule (task_failed events since the last reset). */
  errorCount(taskId: string): Promise<number> {
    return this.engine.currentValue(this.store, ERRORS_RULE_ID, taskId, this.clock.now());
  }

  /** Forgets the errors counted for a task; the errors rule can fire for it again. */
  async resetErrorCount(taskId: string): Promise<number> {
    const n = await this.store.transaction((tx) => resetGroup(tx, ERRORS_RULE_ID, taskId));
    this.log.info({ task_id: taskId, forgotten: n }, 'error count reset');
    return n;
  }

  /** Spend counted by the budget rule in the current period, US dollars. */
  budgetUsed(): Promise<number> {
    return this.engine.currentValue(this.store, BUDGET_RULE_ID, '', this.clock.now());
  }

  thresholds(): Thresholds {
    return { ...this.config.thresholds };
  }

  /** The event types the stream rules count (what an evaluator following `logs` must read). */
  ruleEventTypes(): string[] {
    return [...new Set(this.config.rules.map((r) => r.event_type))];
  }

  /** Changes thresholds at run time (this process); the checks and the rules use them from now on. */
  updateThresholds(update: Partial<Thresholds>): Thresholds {
    const next = validating(() => mergeThresholds(this.config.thresholds, update));
    this.log.info({ from: this.config.thresholds, to: next }, 'thresholds changed');
    this.config.thresholds = next;
    return this.thresholds();
  }

  // ---- reading and acting ---------------------------------------------------------------------

  async list(q: ListQuery = {}): Promise<{ interventions: Intervention[]; next_cursor: string | null }> {
    const p: string[] = [];
    if (q.status !== undefined && !STATUSES.includes(q.status)) p.push(`status: expected one of ${STATUSES.join(', ')}, got ${JSON.stringify(q.status)}`);
    if (q.level !== undefined && !isInterventionLevel(q.level)) p.push(`level: expected one of ${INTERVENTION_LEVELS.join(', ')}, got ${JSON.stringify(q.level)}`);
    const limit = q.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) p.push(`limit: expected an integer from 1 to ${MAX_LIST_LIMIT}`);
    if (p.length > 0) throw InterventionError.invalid(p);
    const before = q.cursor ? decodeCursor(q.cursor) : undefined;
    const rows = await listInterventions(this.store, { status: q.status, level: q.level, task_id: q.task_id, before_seq: before, limit });
    const page = rows.slice(0, limit);
    const next_cursor = rows.length > limit ? encodeCursor(page[page.length - 1].seq) : null;
    return { interventions: page.map(({ seq: _seq, ...i }) => i), next_cursor };
  }

  async get(id: string): Promise<InterventionDetail | null> {
    if (!isUuid(id)) return null;
    const intervention = await getIntervention(this.store, id);
    if (intervention === null) return null;
    const [occurrences, notifications, deliveries] = [await listOccurrences(this.store, id), await listNotifications(this.store, id), await this.recorder.list(this.store, id)];
    return { intervention, occurrences, notifications, deliveries };
  }

  /** Acknowledges: stops repeats and escalation. Idempotent; conflict when already resolved. */
  ack(id: string, by: string): Promise<Intervention> {
    return this.act(id, by, (tx, now) => acknowledge(tx, id, by, now));
  }

  /** Resolves; the next trigger of its dedupe key opens a new intervention. Idempotent. */
  resolve(id: string, by: string, note?: string): Promise<Intervention> {
    return this.act(id, by, (tx, now) => resolve(tx, id, by, now, note));
  }

  private async act(id: string, by: string, fn: (tx: Tx, now: number) => Promise<ActionResult>): Promise<Intervention> {
    if (typeof by !== 'string' || by.trim() === '') throw InterventionError.invalid(['by: required (who acts)']);
    if (!isUuid(id)) throw new InterventionError('not_found', `no intervention ${JSON.stringify(String(id).slice(0, 64))}`);
    const r = await this.store.transaction((tx) => fn(tx, this.clock.now()));
    if (!r.ok) throw new InterventionError(r.error, r.message);
    if (r.changed) this.log.info({ intervention_id: id, status: r.intervention.status, by }, `intervention ${r.intervention.status}`);
    return r.intervention;
  }

  // ---- silences -------------------------------------------------------------------------------

  async addSilence(input: unknown): Promise<Silence> {
    const now = this.clock.now();
    const v = validating(() => validateSilence(input, now));
    const s = await insertSilence(this.store, uuidv7(now), v.input, v.starts, v.ends, now);
    this.log.info({ silence: s.id, matchers: s.matchers, ends_at: s.ends_at, by: s.created_by }, 'silence added');
    return s;
  }

  /** Silences not yet ended; `all` includes ended ones. `active` only those in force now. */
  async listSilences(q: { all?: boolean; active?: boolean } = {}): Promise<Silence[]> {
    const now = this.clock.now();
    return q.active ? activeSilences(this.store, now) : listSilences(this.store, now, q.all === true);
  }

  async expireSilence(id: string, by: string): Promise<Silence> {
    if (typeof by !== 'string' || by.trim() === '') throw InterventionError.invalid(['by: required (who expires it)']);
    const s = isUuid(id) ? await expireSilence(this.store, id, by, this.clock.now()) : null;
    if (s === null) throw new InterventionError('not_found', `no silence ${JSON.stringify(String(id).slice(0, 64))}`);
    this.log.info({ silence: id, by }, 'silence expired');
    return s;
  }

  // ---- escalation -----------------------------------------------------------------------------

  /** Escalates and re-notifies what is due at the clock's now. Safe from several processes. */
  async tick(): Promise<TickResult> {
    const now = this.clock.now();
    const escalated = await this.store.transaction((tx) => escalateDue(tx, this.deps, this.config.escalation, now, TICK_BATCH));
    const repeated = await this.store.transaction((tx) => repeatDue(tx, this.deps, this.config.escalation, now, TICK_BATCH));
    const pruned = await this.store.transaction((tx) => this.engine.prunePeriods(tx, now));
    if (pruned > 0) this.log.debug({ pruned }, 'forgot rule hits of past periods');
    return { escalated, repeated };
  }

  /** Runs tick() every `tick_interval_ms` until close(). */
  start(): void {
    if (this.timer !== null || this.closed) return;
    const loop = (): void => {
      this.ticking = this.tick()
        .catch((err: Error) => this.log.warn({ err: { message: err.message } }, 'escalation tick failed'))
        .finally(() => {
          this.ticking = null;
          if (!this.closed) this.timer = setTimeout(loop, this.config.tick_interval_ms);
        });
    };
    this.timer = setTimeout(loop, this.config.tick_interval_ms);
  }

  /** Stops the timer and waits for evaluations and a tick in flight. Does not close the store. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    await this.pending;
  }
}

function fireToTrigger(f: Fire): TriggerInput {
  return {
    dedupe_key: f.dedupe_key,
    task_id: f.task_id,
    level: f.level,
    reasons: [{ code: f.rule.reason, level: f.level, detail: f.message }],
    title: f.title,
    message: f.message,
    context: { rule: f.rule.id, group: f.group_key, ...(f.period ? { period: f.period } : {}), value: f.value, threshold: f.threshold, event_ids: f.event_ids },
    source: `rule:${f.rule.id}`,
  };
}
