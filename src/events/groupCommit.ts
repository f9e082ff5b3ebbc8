/**
 * Group commit for the server's ingest path: rows from concurrent requests share one commit.
 *
 * When no commit is in flight, a submission is committed at once (no waiting window, so a lone
 * request pays one round trip); while one is in flight, submissions gather and all go together in
 * the next commit, as soon as the current one finishes. Each request gets its own promise, settled
 * only after its rows are committed: nothing is acknowledged that is not durable.
 *
 * Unlike the SDK's BatchWriter there is no spool and no retry here: when the database fails, the
 * requests fail (the client retries; ids make that idempotent).
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { chainAhead, mergePrepared, prepareRows, type ChainTail, type PreparedRows } from '../trust/chain.js';
import { insertEvents, isDataError } from './insertEvents.js';
import type { EventRow } from './types.js';

/** Most rows written by one commit; more pending rows wait for the next one. */
export const DEFAULT_GROUP_MAX_ROWS = 20_000;

/** Per row: null when committed, or why the database refused it (its data). */
export type RowOutcome = string | null;

export class CommitterClosedError extends Error {
  constructor() {
    super('the server is shutting down');
    this.name = 'CommitterClosedError';
  }
}

export interface GroupCommitStats {
  /** Called after every commit attempt with the rows it held and how long it took. */
  onCommit?: (rows: number, ms: number, ok: boolean) => void;
}

export interface GroupCommitOptions extends GroupCommitStats {
  store: Store;
  log: Logger;
  maxRows?: number;
  /** Called with the rows of each successful commit (stream rules hang here). */
  onRows?: (rows: readonly EventRow[]) => void;
}

interface Pending {
  rows: readonly EventRow[];
  /** Encoded, and chained ahead from where the submissions before it end, on arrival. */
  prepared: PreparedRows;
  resolve: (outcomes: RowOutcome[]) => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter {
  private queue: Pending[] = [];
  private queuedRows = 0;
  /** Whether a commit is in flight (one at a time: see pump). */
  private inFlight = false;
  /** Callers of close waiting for the last commit. */
  private idle: (() => void)[] = [];
  private closed = false;
  private readonly maxRows: number;
  /** Where this committer's chain ends: submissions are chained ahead while a commit is in flight. */
  private readonly tail: ChainTail = { last: null };

  constructor(private readonly opts: GroupCommitOptions) {
    this.maxRows = opts.maxRows ?? DEFAULT_GROUP_MAX_ROWS;
  }

  /** Rows waiting for a commit (not counting the one in flight). */
  get pendingRows(): number {
    return this.queuedRows;
  }

  /** Commits `rows` (sharing the commit with concurrent callers). Rejects when the database failed. */
  submit(rows: readonly EventRow[]): Promise<RowOutcome[]> {
    if (this.closed) return Promise.reject(new CommitterClosedError());
    if (rows.length === 0) return Promise.resolve([]);
    return new Promise<RowOutcome[]>((resolve, reject) => {
      const prepared = prepareRows(rows);
      chainAhead(prepared, this.tail);
      this.queue.push({ rows, prepared, resolve, reject });
      this.queuedRows += rows.length;
      this.pump();
    });
  }

  private take(): Pending[] {
    let n = 0;
    let i = 0;
    // Always take at least one submission, then as many as fit.
    while (i < this.queue.length && (i === 0 || n + this.queue[i].rows.length <= this.maxRows)) n += this.queue[i++].rows.length;
    const group = this.queue.splice(0, i);
    this.queuedRows -= n;
    return group;
  }

  /**
   * Starts the next commit unless one is in flight; each commit, when done, starts the next with
   * what gathered meanwhile. (Two in flight, the second chained ahead and waiting in the database
   * for the first one's lock, was measured: smaller commits, more work for the database, fewer
   * requests per second on two cores.)
   */
  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    void this.commit(this.take()).finally(() => {
      this.inFlight = false;
      if (this.queue.length === 0) for (const done of this.idle.splice(0)) done();
      this.pump();
    });
  }

  private async commit(group: Pending[]): Promise<void> {
    const rows = group.length === 1 ? group[0].rows : group.flatMap((g) => g.rows);
    const t0 = performance.now();
    try {
      await insertEvents(this.opts.store, rows, mergePrepared(group.map((g) => g.prepared)), this.tail);
      this.opts.onCommit?.(rows.length, performance.now() - t0, true);
      for (const g of group) g.resolve(new Array<RowOutcome>(g.rows.length).fill(null));
      this.notify(rows);
    } catch (err) {
      this.opts.onCommit?.(rows.length, performance.now() - t0, false);
      if (isDataError(err)) await this.isolate(group);
      else for (const g of group) g.reject(err);
    }
  }

  /**
   * The database refused some row for its data: commit each submission alone, and within a
   * refused one each row alone, so one bad row fails only itself.
   */
  private async isolate(group: Pending[]): Promise<void> {
    for (const g of group) {
      try {
        await insertEvents(this.opts.store, g.rows, undefined, this.tail);
        g.resolve(new Array<RowOutcome>(g.rows.length).fill(null));
        this.notify(g.rows);
        continue;
      } catch (err) {
        if (!isDataError(err)) {
          g.reject(err);
          continue;
        }
      }
      const outcomes: RowOutcome[] = [];
      try {
        for (const row of g.rows) {
          try {
            await insertEvents(this.opts.store, [row], undefined, this.tail);
            outcomes.push(null);
            this.notify([row]);
          } catch (err) {
            if (!isDataError(err)) throw err;
            outcomes.push(`refused by the database: ${(err as Error).message}`);
          }
        }
        g.resolve(outcomes);
      } catch (err) {
        g.reject(err);
      }
    }
  }

  private notify(rows: readonly EventRow[]): void {
    try {
      this.opts.onRows?.(rows);
    } catch (err) {
      this.opts.log.error({ err }, 'onRows hook failed');
    }
  }

  /** Refuses new submissions and waits for every pending one to be committed (or to fail). */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.inFlight && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
