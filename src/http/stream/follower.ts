/**
 * The events of the live stream, read from the trail: every row committed to `logs` by any writer
 * (this server's group commit, other servers, an in-process SDK on the same PostgreSQL), each
 * delivered once, in `seq` order as far as commits allow.
 *
 * The follower runs only while some client is subscribed to events. It starts at the end of the
 * trail and reads the rows after the highest `seq` it has read, woken by this process's commits
 * and otherwise every `pollMs`. A `seq` skipped over is a hole: a transaction that took its
 * numbers and has not committed yet (another writer's batch in flight), or one rolled back. Holes
 * are looked at again on every read and their rows delivered when they appear; a hole still empty
 * after `gapTimeoutMs` is given up (a rolled-back write, or one committing later than that: its
 * rows are in the trail and the query API, not on the stream).
 *
 * `vigil tail` follows the trail with it too, on the database directly, with the query API's
 * filters (`filters`: rows that do not match still count for the holes, and are not delivered) and
 * a look back at the newest seqs when it starts (`lookBack`), so that a write in flight as it
 * starts is not missed either.
 */
import type { Logger } from 'pino';
import type { Level } from '../../events/catalogue.js';
import { whereClause, type EventFilters } from '../../events/queries.js';
import type { EventRow } from '../../events/types.js';
import type { Queryable } from '../../store/store.js';

export const DEFAULT_FOLLOW_POLL_MS = 200;
export const DEFAULT_FOLLOW_GAP_TIMEOUT_MS = 10_000;
export const DEFAULT_FOLLOW_BATCH_ROWS = 1_000;
/** Reads woken by commits begin at most this often: under a stream of commits, one read takes many. */
export const DEFAULT_FOLLOW_MIN_GAP_MS = 25;
/** Holes kept at most; beyond it the oldest are given up (a storm of rolled-back writes). */
export const MAX_HOLES = 1_000;

export interface TrailFollowerOptions {
  db: Queryable;
  log: Logger;
  /** Receives each committed row once. */
  deliver: (rows: EventRow[]) => void;
  pollMs?: number;
  minGapMs?: number;
  gapTimeoutMs?: number;
  batchRows?: number;
  now?: () => number;
  /** Deliver only the rows matching these filters (the query API's); default every row. */
  filters?: EventFilters;
  /**
   * At start, the seqs missing among this many below the end of the trail are holes too: rows
   * committing into them later are delivered (default 0: only rows after the end).
   */
  lookBack?: number;
}

/** A run of seqs read past and not yet seen, since when. */
interface Hole {
  lo: number;
  hi: number;
  since: number;
}

interface Row {
  id: string;
  seq: string | number;
  /** With filters: whether the row matches them. */
  matched?: boolean;
  level: Level;
  message: string;
  timestamp: Date | string;
  event_type: string;
  log_metadata: Record<string, unknown>;
}

const COLUMNS = `id::text AS id, seq, level, message, "timestamp", event_type, log_metadata`;

function eventRow(r: Row): EventRow {
  return { id: r.id, level: r.level, message: r.message, time: new Date(r.timestamp).getTime(), event_type: r.event_type, metadata: r.log_metadata };
}

/** Rows read in seq order after `after`: the seqs skipped go to `holes` (since `now`); returns the highest seq read. */
function seqsRead(rows: readonly { seq: string | number }[], after: number, now: number, holes: Hole[]): number {
  let expect = after + 1;
  for (const r of rows) {
    const seq = Number(r.seq);
    if (seq > expect) holes.push({ lo: expect, hi: seq - 1, since: now });
    expect = seq + 1;
  }
  return expect - 1;
}

export class TrailFollower {
  private readonly db: Queryable;
  private readonly log: Logger;
  private readonly deliver: (rows: EventRow[]) => void;
  private readonly pollMs: number;
  private readonly minGapMs: number;
  private readonly gapTimeoutMs: number;
  private readonly batch: number;
  private readonly now: () => number;
  private readonly filters: EventFilters | undefined;
  private readonly lookBack: number;
  /** When the last read began (performance.now()). */
  private lastRead = -Infinity;
  /** Null while stopped; otherwise the highest seq read. */
  private high: number | null = null;
  private holes: Hole[] = [];
  private starting: Promise<void> | null = null;
  /** Counts starts and stops: a start finishing after a stop leaves it stopped. */
  private gen = 0;
  private running: Promise<void> | null = null;
  private again = false;
  private more = false;
  private timer: NodeJS.Timeout | null = null;
  private lastError = '';
  /** Holes given up so far (for tests and the log). */
  gaveUp = 0;

  constructor(opts: TrailFollowerOptions) {
    this.db = opts.db;
    this.log = opts.log.child({ component: 'stream-follower' });
    this.deliver = opts.deliver;
    this.pollMs = opts.pollMs ?? DEFAULT_FOLLOW_POLL_MS;
    this.minGapMs = opts.minGapMs ?? DEFAULT_FOLLOW_MIN_GAP_MS;
    this.gapTimeoutMs = opts.gapTimeoutMs ?? DEFAULT_FOLLOW_GAP_TIMEOUT_MS;
    this.batch = opts.batchRows ?? DEFAULT_FOLLOW_BATCH_ROWS;
    this.now = opts.now ?? Date.now;
    this.filters = opts.filters;
    this.lookBack = opts.lookBack ?? 0;
  }

  get active(): boolean {
    return this.starting !== null;
  }

  /**
   * Starts following at the end of the trail, unless already following; resolves once the position
   * is taken: every row committed after that is delivered.
   */
  start(): Promise<void> {
    if (this.starting) return this.starting;
    const gen = ++this.gen;
    this.starting = (async () => {
      const { rows } = await this.db.query<{ high: string | null }>('SELECT max(seq)::text AS high FROM logs');
      const high = Number(rows[0].high ?? 0);
      const holes = this.lookBack > 0 ? await this.recentHoles(high) : [];
      if (gen !== this.gen) return; // stopped meanwhile
      this.high = high;
      this.holes = holes;
      this.schedule(this.pollMs);
    })().catch((err: unknown) => {
      if (gen === this.gen) this.starting = null;
      throw err;
    });
    return this.starting;
  }

  /** The highest seq read (the end of the trail when it started), null while stopped. */
  get position(): number | null {
    return this.high;
  }

  /** The seqs missing among the `lookBack` below `high` (and above 0), as holes. */
  private async recentHoles(high: number): Promise<Hole[]> {
    const from = Math.max(0, high - this.lookBack);
    const { rows } = await this.db.query<{ seq: string | number }>('SELECT seq FROM logs WHERE seq > $1 AND seq <= $2 ORDER BY seq', [from, high]);
    const holes: Hole[] = [];
    seqsRead(rows, from, this.now(), holes);
    return holes.slice(-MAX_HOLES);
  }

  /** Stops following (no subscriber left); a later start() begins at the end of the trail again. */
  async stop(): Promise<void> {
    this.gen++;
    this.starting = null;
    this.high = null;
    this.holes = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Something was committed: read soon (at most one read per `minGapMs`). */
  wake(): void {
    if (this.high === null) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(Math.max(0, this.lastRead + this.minGapMs - performance.now()));
  }

  /** One read: rows that filled holes, then rows after the highest seq read. */
  private async read(): Promise<void> {
    const high = this.high;
    if (high === null) return;
    const now = this.now();
    const late = await this.fillHoles(now);
    const params: unknown[] = [high, this.batch];
    const { rows } = await this.db.query<Row>(`SELECT ${this.columns(params)} FROM logs WHERE seq > $1 ORDER BY seq LIMIT $2`, params);
    if (this.high !== high) return; // stopped (or restarted) meanwhile
    this.high = seqsRead(rows, high, now, this.holes);
    if (this.holes.length > MAX_HOLES) this.giveUp(this.holes.splice(0, this.holes.length - MAX_HOLES), 'too many holes');
    const fresh = this.delivered(rows);
    const all = late.length > 0 ? [...late, ...fresh] : fresh;
    if (all.length > 0) this.deliver(all);
    this.more = rows.length === this.batch;
  }

  /** Rows committed into the holes since the last read; holes past their time are given up. */
  private async fillHoles(now: number): Promise<EventRow[]> {
    if (this.holes.length === 0) return [];
    const old = this.holes.filter((h) => now - h.since >= this.gapTimeoutMs);
    if (old.length > 0) {
      this.holes = this.holes.filter((h) => now - h.since < this.gapTimeoutMs);
      this.giveUp(old, 'timed out');
    }
    if (this.holes.length === 0) return [];
    const holes = this.holes;
    const params: unknown[] = [holes.map((h) => h.lo), holes.map((h) => h.hi)];
    const { rows } = await this.db.query<Row>(
      `SELECT ${this.columns(params)} FROM logs JOIN unnest($1::bigint[], $2::bigint[]) AS h(lo, hi) ON logs.seq BETWEEN h.lo AND h.hi ORDER BY logs.seq`,
      params,
    );
    if (this.holes !== holes || rows.length === 0) return [];
    // What is left of each hole: the runs between the rows found in it.
    const found = rows.map((r) => Number(r.seq));
    const left: Hole[] = [];
    let i = 0;
    for (const h of holes) {
      let lo = h.lo;
      while (i < found.length && found[i] <= h.hi) {
        if (found[i] > lo) left.push({ lo, hi: found[i] - 1, since: h.since });
        lo = found[i] + 1;
        i++;
      }
      if (lo <= h.hi) left.push({ lo, hi: h.hi, since: h.since });
    }
    this.holes = left;
    return this.delivered(rows);
  }

  /** The columns read, with whether the row matches the filters (their values go to `params`). */
  private columns(params: unknown[]): string {
    return this.filters === undefined ? COLUMNS : `${COLUMNS}, (${whereClause(this.filters, params)}) AS matched`;
  }

  private delivered(rows: Row[]): EventRow[] {
    return (this.filters === undefined ? rows : rows.filter((r) => r.matched === true)).map(eventRow);
  }

  private giveUp(holes: Hole[], why: string): void {
    this.gaveUp += holes.length;
    const seqs = holes.reduce((n, h) => n + h.hi - h.lo + 1, 0);
    this.log.debug({ holes: holes.length, seqs, first_seq: holes[0].lo, why }, 'gave up waiting for seqs not committed (rolled back, or committing late)');
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, ms);
    this.timer.unref();
  }

  private run(): void {
    if (this.running || this.high === null) return;
    this.again = false;
    this.more = false;
    this.lastRead = performance.now();
    this.running = this.read()
      .then(
        () => {
          this.lastError = '';
        },
        (err: unknown) => {
          const msg = (err as Error).message;
          if (msg !== this.lastError) this.log.warn({ err: { message: msg } }, 'reading new events failed; trying again');
          this.lastError = msg;
        },
      )
      .finally(() => {
        this.running = null;
        // A full batch: more rows wait, read on at once; woken meanwhile: after the gap; else poll.
        if (this.high !== null) this.schedule(this.more ? 0 : this.again ? Math.max(0, this.lastRead + this.minGapMs - performance.now()) : this.pollMs);
      });
  }
}
