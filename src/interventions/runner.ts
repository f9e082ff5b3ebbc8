/**
 * The stream-rule evaluator and escalation loop that `vigil serve` (and `vigil worker`) run.
 *
 * Stream rules must see every committed event, whoever wrote it: this server's ingest, another
 * `vigil serve` on the same PostgreSQL, an in-process SDK writing straight to the database. So
 * the runner does not hang on one writer's commits: it follows `logs` by `seq`, with its position
 * in `rule_cursor` (migrations/006_rule_cursor.sql), one transaction per pass:
 *
 *   1. lock the cursor row (FOR UPDATE SKIP LOCKED): one process evaluates at a time, the others
 *      skip the pass; nothing is counted twice because the position moves in the same
 *      transaction as the rule state;
 *   2. read rows after `safe_seq` in seq order (only the event types rules count carry data);
 *   3. evaluate them (service.evaluateIn): rows read before are skipped by rule_hits' primary key;
 *   4. move `safe_seq` over the rows without a hole before them. A hole is a seq taken by a
 *      transaction not yet committed (it will show up later, lower than rows already read) or
 *      rolled back: the rows after it are read again on each pass until it fills, or until it has
 *      stayed open `gapTimeoutMs`, when it is given up.
 *
 * A pass runs after this server's commits (wake(), from buildApp's onCommit) — at once when the
 * last one began `passGapMs` ago or more, else when it has: under steady ingest the rows of many
 * commits share a pass, whose cost is mostly per pass — and every `pollIntervalMs` otherwise.
 * start() also starts the service's escalation timer (tick()).
 */
import pino, { type Logger } from 'pino';
import type { EventRow } from '../events/types.js';
import type { Level } from '../events/catalogue.js';
import type { Store, Tx } from '../store/store.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { InterventionService } from './service.js';
import type { VigilConfig } from '../config/config.js';
import { ConfigError } from '../rules/thresholds.js';
import { resolveInterventionConfig, type InterventionConfig } from './config.js';

/** The cursor `vigil serve` and `vigil worker` share (created by migration 006). */
export const DEFAULT_CURSOR_NAME = 'stream_rules';
/** Pause between passes when nothing wakes the runner, ms. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** Least time between the starts of passes woken by commits, ms: how much later than at once a rule may fire under load. */
export const DEFAULT_PASS_GAP_MS = 100;
/** Rows read per pass; a full pass is followed by another at once. */
export const DEFAULT_BATCH_ROWS = 5_000;
/**
 * How long a hole in `seq` may stay open before it is given up, ms. Vigil's own writers commit
 * within seconds of taking their seqs (a group commit, an SDK batch); a hole older than this is a
 * rolled-back insert. A row committed later than this after its seq was taken is not evaluated.
 */
export const DEFAULT_GAP_TIMEOUT_MS = 30_000;

export interface RuleRunnerOptions {
  service: InterventionService;
  logger?: Logger;
  /** For hole timing; default the system clock. */
  clock?: Clock;
  name?: string;
  pollIntervalMs?: number;
  passGapMs?: number;
  batchRows?: number;
  gapTimeoutMs?: number;
}

export interface PassResult {
  /** False when another process held the cursor: this pass did nothing. */
  ran: boolean;
  read: number;
  evaluated: number;
  fired: number;
  safe_seq: number;
  /** A full batch was read and the position moved: another pass should follow at once. */
  more: boolean;
}

interface CursorRow {
  safe_seq: number;
  high_seq: number;
  gap_since: number | null;
}

// ---- SQL (parameterised) ------------------------------------------------------------------------

async function lockCursor(tx: Tx, name: string, now: number): Promise<CursorRow | null> {
  const sel = `SELECT safe_seq, high_seq, gap_since FROM rule_cursor WHERE name = $1 FOR UPDATE SKIP LOCKED`;
  let { rows } = await tx.query<{ safe_seq: string | number; high_seq: string | number; gap_since: Date | string | null }>(sel, [name]);
  if (rows.length === 0) {
    // Absent (another cursor name), or held by another process: create it if absent, from now on.
    const ins = await tx.query(
      `INSERT INTO rule_cursor (name, safe_seq, high_seq, updated_at)
       SELECT $1, coalesce(max(seq), 0), coalesce(max(seq), 0), $2 FROM logs
       ON CONFLICT (name) DO NOTHING`,
      [name, new Date(now).toISOString()],
    );
    if (ins.rowCount === 0) return null;
    ({ rows } = await tx.query(sel, [name]));
  }
  const r = rows[0];
  return { safe_seq: Number(r.safe_seq), high_seq: Number(r.high_seq), gap_since: r.gap_since === null ? null : new Date(r.gap_since).getTime() };
}

interface LogRow {
  id: string;
  seq: string | number;
  level: Level;
  message: string | null;
  timestamp: Date | string;
  event_type: string;
  log_metadata: Record<string, unknown> | null;
}

/** Rows after `after` in seq order; message and metadata only for the types the rules count. */
async function readAfter(tx: Tx, after: number, limit: number, types: readonly string[]): Promise<LogRow[]> {
  const { rows } = await tx.query<LogRow>(
    `SELECT id::text AS id, seq, level, event_type, "timestamp",
            CASE WHEN event_type = ANY($3::text[]) THEN message END AS message,
            CASE WHEN event_type = ANY($3::text[]) THEN log_metadata END AS log_metadata
       FROM logs WHERE seq > $1 ORDER BY seq LIMIT $2`,
    [after, limit, [...types]],
  );
  return rows;
}

async function saveCursor(tx: Tx, name: string, c: CursorRow, now: number): Promise<void> {
  await tx.query('UPDATE rule_cursor SET safe_seq = $2, high_seq = $3, gap_since = $4, updated_at = $5 WHERE name = $1', [
    name,
    c.safe_seq,
    c.high_seq,
    c.gap_since === null ? null : new Date(c.gap_since).toISOString(),
    new Date(now).toISOString(),
  ]);
}

// ---- the runner ---------------------------------------------------------------------------------

export class RuleRunner {
  private readonly service: InterventionService;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly name: string;
  private readonly pollMs: number;
  private readonly passGapMs: number;
  private readonly batch: number;
  private readonly gapTimeoutMs: number;
  private timer: NodeJS.Timeout | null = null;
  /** When the pending timer fires (ms since the epoch). */
  private dueAt = 0;
  /** When the last run of passes began. */
  private lastStart = -Infinity;
  private running: Promise<void> | null = null;
  private dirty = false;
  private started = false;
  private closed = false;
  private lastError: string | null = null;

  constructor(opts: RuleRunnerOptions) {
    this.service = opts.service;
    this.store = opts.service.store;
    this.log = (opts.logger ?? pino({ name: 'vigil' })).child({ component: 'rule-runner' });
    this.clock = opts.clock ?? systemClock;
    this.name = opts.name ?? DEFAULT_CURSOR_NAME;
    this.pollMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.passGapMs = opts.passGapMs ?? DEFAULT_PASS_GAP_MS;
    this.batch = opts.batchRows ?? DEFAULT_BATCH_ROWS;
    this.gapTimeoutMs = opts.gapTimeoutMs ?? DEFAULT_GAP_TIMEOUT_MS;
  }

  /** One pass: evaluates what was committed since the last one. Exported for tests and tools. */
  pass(): Promise<PassResult> {
    const types = this.service.ruleEventTypes();
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const cur = await lockCursor(tx, this.name, now);
      if (cur === null) return { ran: false, read: 0, evaluated: 0, fired: 0, safe_seq: -1, more: false };
      const rows = await readAfter(tx, cur.safe_seq, this.batch, types);
      const wanted: EventRow[] = [];
      for (const r of rows) {
        if (r.log_metadata === null) continue;
        wanted.push({ id: r.id, level: r.level, message: r.message ?? '', time: new Date(r.timestamp).getTime(), event_type: r.event_type, metadata: r.log_metadata });
      }
      const { fires } = wanted.length > 0 ? await this.service.evaluateIn(tx, wanted) : { fires: [] };
      const next = this.advance(cur, rows.map((r) => Number(r.seq)), now);
      await saveCursor(tx, this.name, next, now);
      return { ran: true, read: rows.length, evaluated: wanted.length, fired: fires.length, safe_seq: next.safe_seq, more: rows.length === this.batch && next.safe_seq > cur.safe_seq };
    });
  }

  /** The new position: over the rows without a hole before them; a hole open too long is given up. */
  private advance(cur: CursorRow, seqs: number[], now: number): CursorRow {
    let safe = cur.safe_seq;
    let i = 0;
    const over = () => {
      while (i < seqs.length && seqs[i] === safe + 1) {
        safe++;
        i++;
      }
    };
    over();
    let gapSince: number | null = null;
    if (i < seqs.length) {
      if (safe === cur.safe_seq && cur.gap_since !== null && now - cur.gap_since >= this.gapTimeoutMs) {
        this.log.warn({ from_seq: safe + 1, to_seq: seqs[i] - 1, open_ms: now - cur.gap_since }, 'gave up a hole in logs.seq (a rolled-back insert)');
        safe = seqs[i] - 1;
        over();
        gapSince = i < seqs.length ? now : null;
      } else gapSince = safe === cur.safe_seq && cur.gap_since !== null ? cur.gap_since : now;
    }
    const high = seqs.length > 0 ? Math.max(cur.high_seq, seqs[seqs.length - 1]) : cur.high_seq;
    return { safe_seq: safe, high_seq: high, gap_since: gapSince };
  }

  /** Runs a pass soon (after this server's commits): at once, or `passGapMs` after the last began. */
  wake(): void {
    if (!this.started || this.closed) return;
    if (this.running !== null) {
      this.dirty = true;
      return;
    }
    this.scheduleAt(Math.max(Date.now(), this.lastStart + this.passGapMs));
  }

  /** Starts following `logs` and the service's escalation timer. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.service.start();
    this.scheduleAt(Date.now());
  }

  /** Runs passes at `at`, unless they are due sooner already. */
  private scheduleAt(at: number): void {
    if (this.timer !== null) {
      if (this.dueAt <= at) return;
      clearTimeout(this.timer);
    }
    this.dueAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.lastStart = Date.now();
      this.running = this.loop().finally(() => {
        this.running = null;
        if (!this.closed) this.scheduleAt(this.dirty ? this.lastStart + this.passGapMs : Date.now() + this.pollMs);
      });
    }, Math.max(0, at - Date.now()));
  }

  private async loop(): Promise<void> {
    try {
      let r: PassResult;
      do {
        this.dirty = false;
        r = await this.pass();
        if (r.fired > 0) this.log.debug({ fired: r.fired, safe_seq: r.safe_seq }, 'stream rules fired');
      } while (!this.closed && r.more);
      this.lastError = null;
    } catch (err) {
      const message = (err as Error).message;
      // A retry is logged only when its error changes.
      if (message !== this.lastError) this.log.warn({ err: { message, code: (err as { code?: string }).code } }, 'stream rule pass failed; retrying');
      this.lastError = message;
    }
  }

  /** Resolves when no pass is running. */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  /**
   * Stops the loop, runs a last pass (what the server committed just before closing), and closes
   * the service (its timer and evaluations). Call before closing the store. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.idle();
    if (this.started) {
      await this.pass().catch((err: Error) => this.log.warn({ err: { message: err.message } }, 'last stream rule pass failed'));
    }
    await this.service.close();
  }
}

/**
 * The interventions configuration of a config file's `interventions` section, for `vigil serve`
 * and `vigil worker`: every problem listed, naming the file, in one ConfigError.
 */
export function interventionConfigFrom(cfg: Pick<VigilConfig, 'file'>): InterventionConfig {
  try {
    return resolveInterventionConfig(cfg.file.sections.interventions ?? {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const e = new ConfigError(err.problems.map((p) => `interventions.${p}`));
    e.message = `${cfg.file.path ?? 'the config file'}: interventions: ${e.message}`;
    throw e;
  }
}
