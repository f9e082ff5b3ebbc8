/**
 * The batching writer: accepted events are gathered for a short window and committed in one
 * bulk statement; while the database fails, batches go to the on-disk spool and are replayed in
 * order when it is back. Nothing accepted is lost, nothing is stored twice (ids are stamped at
 * acceptance and writes are idempotent), and `push` never waits for the database.
 *
 * The model is one ordered queue of sealed batches, each held in memory or in a spool file.
 * One loop commits the head of the queue; on failure every in-memory batch is spilled to disk
 * (so it survives a crash) and the head is retried with bounded exponential backoff.
 */
import type { Logger } from 'pino';
import type { EventSink } from './sink.js';
import { Spool } from './spool.js';
import type { EventRow } from './types.js';
import { uuidv7 } from './uuid7.js';

/** Defaults, with units. */
export const DEFAULT_BATCH_SIZE = 5_000; // events per batch
// A backlog (a producer outrunning the database) is written in commits of up to this many
// batches: each commit costs several round trips, and in a busy process each waits its turn.
export const BATCHES_PER_WRITE = 4;
export const DEFAULT_FLUSH_INTERVAL_MS = 25; // longest an event waits in memory before its batch is sealed
export const DEFAULT_MAX_BUFFERED_EVENTS = 100_000; // beyond this, sealed batches are spilled to disk
export const DEFAULT_MAX_SPOOL_BYTES = 1024 ** 3; // 1 GiB; beyond this, new events are refused
export const RETRY_MIN_MS = 100;
export const RETRY_MAX_MS = 5_000;

export interface WriterOptions {
  /** The sink, or a function opening it (called again after a failure until it succeeds). */
  sink: EventSink | (() => Promise<EventSink>);
  spoolDir: string;
  log: Logger;
  batchSize?: number;
  flushIntervalMs?: number;
  maxBufferedEvents?: number;
  maxSpoolBytes?: number;
  /** Called after each commit with the rows it stored (rules over the stream hang here). */
  onCommit?: (rows: readonly EventRow[]) => void;
}


interface Batch {
  n: number;
  key: string;
  count: number;
  rows?: EventRow[];
  file?: string;
  bytes: number;
  spilling?: Promise<void>;
  /** The sink's prepare() result (encoded rows), computed while an earlier batch is being written. */
  prepared?: unknown;
}

/** One write: consecutive batches of the queue, their rows, and the sink's preparation of them. */
interface Write {
  batches: Batch[];
  rows: EventRow[];
  prepared?: unknown;
}

export interface WriterStats {
  accepted: number;
  committed: number;
  refused_full: number;
  rejected: number;
  batches: number;
  buffered: number;
  spooled_batches: number;
  spool_bytes: number;
  last_commit_ms: number;
  failing: boolean;
}

interface Waiter {
  target: number;
  resolve: (ok: boolean) => void;
}

export class BatchWriter {
  private readonly spool: Spool;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly maxSpoolBytes: number;
  private readonly log: Logger;
  private sink: EventSink | null = null;

  private current: EventRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly queue: Batch[] = [];
  private nextN = 1;
  private committedN = 0;
  private memRows = 0;
  private spoolBytes = 0;
  private running = false;
  private failing = false;
  private closed = false;
  private lastError = '';
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private waiters: Waiter[] = [];
  private readonly counters = { accepted: 0, committed: 0, refused_full: 0, rejected: 0, batches: 0, last_commit_ms: 0 };
  private readonly onExit = () => this.spillAllSync();

  constructor(private readonly opts: WriterOptions) {
    this.batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
    this.flushIntervalMs = opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.maxBuffered = opts.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    this.maxSpoolBytes = opts.maxSpoolBytes ?? DEFAULT_MAX_SPOOL_BYTES;
    this.log = opts.log;
    this.spool = new Spool(opts.spoolDir);
    // Batches left by an earlier process come first: they were accepted before anything new.
    for (const f of this.spool.list()) {
      this.queue.push({ n: this.nextN++, key: f.name, count: f.count, file: f.name, bytes: f.bytes });
      this.spoolBytes += f.bytes;
    }
    if (this.queue.length > 0) {
      const events = this.queue.reduce((s, b) => s + b.count, 0);
      this.log.info({ batches: this.queue.length, events }, 'replaying the spool left by an earlier run');
    }
    if (typeof opts.sink !== 'function') this.sink = opts.sink;
    process.on('exit', this.onExit);
    if (this.queue.length > 0) this.kick();
  }

  /** Buffers one validated event. Synchronous and O(1); false when the spool is full. */
  push(row: EventRow): boolean {
    if (this.closed || this.spoolBytes > this.maxSpoolBytes) {
      this.counters.refused_full++;
      return false;
    }
    this.counters.accepted++;
    this.current.push(row);
    if (this.current.length >= this.batchSize) this.seal();
    else if (this.timer === null) this.timer = setTimeout(() => this.seal(), this.flushIntervalMs);
    return true;
  }

  /** Why push() refuses, for the caller's error message. */
  refusalReason(): string {
    return this.closed
      ? 'the audit logger is closed'
      : `the spool is full (${this.spoolBytes} bytes, limit ${this.maxSpoolBytes}) while the database is unavailable`;
  }

  private seal(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.current.length === 0) return;
    const rows = this.current;
    this.current = [];
    const batch: Batch = { n: this.nextN++, key: uuidv7(), count: rows.length, rows, bytes: 0 };
    this.queue.push(batch);
    this.memRows += rows.length;
    if (this.failing) this.spill(batch);
    else if (this.memRows > this.maxBuffered) this.spillNewest();
    else if (this.running && this.sink?.prepare) this.prepareSoon(batch);
    this.kick();
  }

  /**
   * Encodes a batch on the next turn of the event loop while the batch ahead of it is being
   * written, so the database does not wait for JavaScript between two writes.
   */
  private prepareSoon(batch: Batch): void {
    setImmediate(() => {
      if (batch.rows && batch.prepared === undefined && !this.failing) {
        const prepared = this.sink?.prepare?.(batch.rows);
        batch.prepared = prepared;
        // A preparation that fails is made again when its write is built, and fails there.
        if (prepared instanceof Promise) prepared.catch(() => (batch.prepared = undefined));
      }
    });
  }

  /** Spills in-memory batches, newest first, until memory is under the limit. */
  private spillNewest(): void {
    for (let i = this.queue.length - 1; i > 0 && this.memRows > this.maxBuffered; i--) {
      const b = this.queue[i];
      if (b.rows && !b.spilling) this.spill(b);
    }
  }

  private spill(batch: Batch): void {
    if (!batch.rows || batch.spilling) return;
    const rows = batch.rows;
    batch.spilling = this.spool
      .write(batch.key, rows)
      .then((f) => {
        batch.file = f.name;
        batch.bytes = f.bytes;
        this.spoolBytes += f.bytes;
        if (batch.rows) {
          batch.rows = undefined;
          batch.prepared = undefined;
          this.memRows -= rows.length;
        }
      })
      .catch((err: Error) => {
        // Disk trouble: keep the batch in memory and say so once per distinct error.
        this.noteError('spool write failed; the batch stays in memory', err);
      })
      .finally(() => {
        batch.spilling = undefined;
      });
  }

  private kick(): void {
    // While backing off after a failure, new batches wait for the retry (no hammering).
    if (this.running) return;
    this.running = true;
    // Started on the next turn of the event loop, so encoding a batch never runs inside the
    // caller's logging call (measured: a 5,000-event batch takes ~10 ms to encode).
    setImmediate(() => {
      void this.loop().finally(() => {
        this.running = false;
        // A batch sealed while the loop was finishing must not wait for the next one.
        if (this.queue.length > 0 && !this.closed) this.kick();
      });
    });
  }

  /**
   * The batches of one write, from `queue[start]` on, up to BATCHES_PER_WRITE batches' worth of
   * rows: consecutive in-memory batches, or consecutive spooled ones (an outage of a minute leaves
   * thousands of small ones, and a commit each would take as long again). Their rows are read,
   * and the write prepared (encoded, and for the store chained ahead), here: the loop builds the
   * next write while the one before it is in flight.
   */
  private async nextWrite(sink: EventSink, start: number): Promise<Write | undefined> {
    const first = this.queue[start];
    if (first === undefined) return undefined;
    const batches = [first];
    let n = first.count;
    const inMemory = first.rows !== undefined;
    for (let i = start + 1; i < this.queue.length; i++) {
      const b = this.queue[i];
      if (n + b.count > BATCHES_PER_WRITE * this.batchSize) break;
      if (inMemory ? b.rows === undefined : b.rows !== undefined || b.file === undefined || b.spilling) break;
      batches.push(b);
      n += b.count;
    }
    let rows: EventRow[];
    let parts: unknown[] | undefined;
    if (inMemory) {
      rows = batches.length === 1 ? first.rows! : batches.flatMap((b) => b.rows!);
      if (sink.prepare) parts = await Promise.all(batches.map((b) => (b.prepared ??= sink.prepare!(b.rows!))));
    } else {
      if (first.spilling) await first.spilling;
      rows = [];
      for (const b of batches) rows = rows.concat(b.rows ?? (await this.spool.read(b.file!)));
      if (sink.prepare) parts = [await sink.prepare(rows)];
    }
    const prepared = parts === undefined ? undefined : sink.combine ? await sink.combine(parts) : parts.length === 1 ? parts[0] : undefined;
    return { batches, rows, prepared };
  }

  private async loop(): Promise<void> {
    let ahead: Promise<Write | undefined> | undefined;
    while (this.queue.length > 0) {
      try {
        // A sink that fails to open is handled like any write failure: spool, back off, retry.
        const sink = this.sink ?? (this.sink = await (this.opts.sink as () => Promise<EventSink>)());
        // The write built ahead is used when it still starts at the head of the queue.
        let w = ahead === undefined ? undefined : await ahead;
        ahead = undefined;
        if (w === undefined || w.batches[0] !== this.queue[0]) w = await this.nextWrite(sink, 0);
        if (w === undefined) break;
        const head = w.batches[0];
        const t0 = performance.now();
        const writing = this.commit(sink, w.rows, head, w.prepared);
        // While this write is in flight, the next one is read and prepared.
        if (this.queue.length > w.batches.length) {
          // A failure here is met again, and handled, when the loop builds that write itself.
          ahead = this.nextWrite(sink, w.batches.length).catch(() => undefined);
        }
        await writing;
        this.counters.last_commit_ms = performance.now() - t0;
        // A spill may have raced with the commit (flush timed out): let it finish, then remove its file.
        for (const b of w.batches) if (b.spilling) await b.spilling;
        this.queue.splice(0, w.batches.length);
        for (const b of w.batches) {
          if (b.rows) {
            this.memRows -= b.count;
            b.rows = undefined;
            b.prepared = undefined;
          }
          if (!b.file) continue;
          await this.spool.remove(b.file);
          this.spoolBytes -= b.bytes;
        }
        this.committedN = w.batches[w.batches.length - 1].n;
        this.counters.committed += w.rows.length;
        this.counters.batches++;
        if (this.failing) {
          this.log.info({ spooled_batches: this.queue.length }, 'database is back; replaying the spool');
          this.failing = false;
          this.lastError = '';
        }
        this.attempt = 0;
        this.resolveWaiters();
        try {
          this.opts.onCommit?.(w.rows);
        } catch (err) {
          this.log.error({ err }, 'onCommit hook failed');
        }
      } catch (err) {
        ahead = undefined;
        if (!this.failing) {
          this.failing = true;
          for (const b of this.queue) this.spill(b);
        }
        this.noteError('database write failed; events are spooled and will be retried', err as Error);
        if (this.closed && this.waiters.length === 0) return;
        await this.backoff((err as { retryAfterMs?: number }).retryAfterMs);
      }
    }
  }

  /** Commits rows; rows the database refuses for their data are set aside, not retried forever. */
  private async commit(sink: EventSink, rows: EventRow[], head: Batch, prepared: unknown): Promise<void> {
    try {
      await sink.write(rows, prepared);
    } catch (err) {
      if (!sink.isPermanent(err)) throw err;
      const rejected: { row: EventRow; error: string }[] = [];
      for (const row of rows) {
        try {
          await sink.write([row]);
        } catch (rowErr) {
          if (!sink.isPermanent(rowErr)) throw rowErr;
          rejected.push({ row, error: (rowErr as Error).message });
        }
      }
      if (rejected.length > 0) {
        await this.spool.reject(rejected);
        this.counters.rejected += rejected.length;
        this.log.error(
          { batch: head.key, rejected: rejected.length, first_id: rejected[0].row.id, reason: rejected[0].error },
          'the database refused events for their data; they were kept in the spool\'s rejected/ folder',
        );
      }
    }
  }

  private noteError(what: string, err: Error): void {
    const msg = err?.message ?? String(err);
    if (msg === this.lastError) return;
    this.lastError = msg;
    this.log.warn({ err: { message: msg, code: (err as { code?: string }).code } }, what);
  }

  /** Waits before the next attempt: exponential with jitter, or longer when the sink was told to wait. */
  private backoff(retryAfterMs?: number): Promise<void> {
    const exp = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.attempt++);
    const ms = Math.max(exp / 2 + Math.random() * (exp / 2), Math.min(retryAfterMs ?? 0, 60_000));
    return new Promise((resolve) => {
      this.wake = resolve;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.wake = null;
        resolve();
      }, ms);
      this.retryTimer.unref();
    });
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    const left: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.committedN >= w.target) w.resolve(true);
      else left.push(w);
    }
    this.waiters = left;
  }

  /**
   * Resolves true when every event pushed so far is committed. With `timeoutMs`, resolves false
   * when time runs out, after putting everything still in memory on disk, so it is durable.
   */
  flush(opts: { timeoutMs?: number } = {}): Promise<boolean> {
    this.seal();
    const target = this.nextN - 1;
    if (this.committedN >= target) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        target,
        resolve: (ok) => {
          if (timer) clearTimeout(timer);
          resolve(ok);
        },
      };
      this.waiters.push(waiter);
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(async () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          for (const b of this.queue) this.spill(b);
          await Promise.all(this.queue.map((b) => b.spilling));
          resolve(this.committedN >= target);
        }, opts.timeoutMs);
      }
    });
  }

  stats(): WriterStats {
    return {
      ...this.counters,
      buffered: this.current.length + this.memRows,
      spooled_batches: this.queue.filter((b) => b.file !== undefined).length,
      spool_bytes: this.spoolBytes,
      failing: this.failing,
    };
  }

  /** Flushes (waiting at most `timeoutMs`; what is left stays in the spool), then stops. */
  async close(opts: { timeoutMs?: number } = {}): Promise<boolean> {
    if (this.closed) return this.committedN >= this.nextN - 1 && this.current.length === 0;
    const ok = await this.flush({ timeoutMs: opts.timeoutMs ?? 10_000 });
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.wake?.();
    await Promise.all(this.queue.map((b) => b.spilling));
    // Whatever is still in memory (the database never came back) goes to disk for the next start.
    this.spillAllSync();
    process.removeListener('exit', this.onExit);
    await this.sink?.close().catch((err: Error) => this.log.warn({ err: { message: err.message } }, 'closing the sink failed'));
    this.sink = null;
    return ok;
  }

  /** Puts every in-memory event on disk synchronously: the last thing done at process exit. */
  private spillAllSync(): void {
    this.seal();
    if (this.timer) clearTimeout(this.timer);
    for (const b of this.queue) {
      if (!b.rows || b.file) continue;
      try {
        const f = this.spool.writeSync(b.key, b.rows);
        b.file = f.name;
        b.bytes = f.bytes;
        b.rows = undefined;
      } catch (err) {
        this.log.error({ err }, 'could not spool events at exit');
      }
    }
  }
}
