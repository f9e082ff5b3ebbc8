/**
 * The in-process audit logger: the 12 typed methods of the design report and `log(event)`.
 *
 * A call validates, stamps id and time, writes one structured pino line, hands the row to the
 * batching writer and returns at once: it never throws and never waits for the database.
 */
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { BUILTIN_EVENT_TYPES, LEVEL_RANK, LEVELS, methodName, type BuiltinEventType, type Level } from '../events/catalogue.js';
import type { AnyEvent, EnvelopeOptions, EventFields, EventRow, LogResult } from '../events/types.js';
import { formatProblems, validateBuiltin, validateEvent, type Validated } from '../events/validate.js';
import { BatchWriter, type WriterStats } from '../events/writer.js';
import { storeSink, type EventSink } from '../events/sink.js';
import { DataDirLock } from '../store/dataDirLock.js';
import { openStore, resolveStoreOptions, type StoreOptions } from '../store/open.js';
import type { Store } from '../store/store.js';
import { PINO_METHOD } from './levels.js';

type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${Capitalize<H>}${Camel<T>}` : Capitalize<S>;

/** `logTaskCreated(fields, options?)` and its eleven siblings, typed from the catalogue. */
export type EventMethods = {
  [E in BuiltinEventType as `log${Camel<E>}`]: (fields: EventFields<E>, options?: EnvelopeOptions) => LogResult;
};

export interface AuditLoggerBase {
  /** Logs any event in its flat form: `{event_type, ...fields}` (built-in or custom type). */
  log(event: AnyEvent): LogResult;
  /**
   * Resolves true when everything accepted so far is committed. With `timeoutMs`, resolves false
   * when time runs out; what is not committed is then in the on-disk spool.
   */
  flush(options?: { timeoutMs?: number }): Promise<boolean>;
  /** Flushes (at most `timeoutMs`, default 10 s; the rest stays spooled) and releases everything. */
  close(options?: { timeoutMs?: number }): Promise<boolean>;
  stats(): WriterStats;
}

export type AuditLogger = AuditLoggerBase & EventMethods;

export interface LocalLoggerOptions extends StoreOptions {
  /** Use this open store (not closed by the logger) instead of opening one. */
  store?: Store;
  /** Where undeliverable batches wait. Default `<dataDir>/spool`. */
  spoolDir?: string;
  /** Events below this level are logged as lines but not stored. Default DEBUG (store all). */
  minLevel?: Level;
  /** Write one structured line per event (pino). Default true. */
  logLine?: boolean;
  /** The pino logger for event lines and Vigil's own messages. Default: pino to standard output. */
  logger?: Logger;
  /** Apply pending migrations when opening the store. Default true. */
  migrate?: boolean;
  batchSize?: number;
  flushIntervalMs?: number;
  maxBufferedEvents?: number;
  maxSpoolBytes?: number;
  /** Called with the rows of each commit. */
  onCommit?: (rows: readonly EventRow[]) => void;
}

let lastIsoMs = -1;
let lastIso = '';
/** ISO string of a millisecond time; consecutive calls in one millisecond share the work. */
function iso(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIsoMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

class LocalAuditLogger implements AuditLoggerBase {
  private readonly minRank: number;
  private readonly lines: Logger | null;
  private readonly log_: Logger;
  private readonly writer: BatchWriter;
  private lock: DataDirLock | undefined;
  private closing = false;

  constructor(opts: LocalLoggerOptions) {
    const minLevel = opts.minLevel ?? 'DEBUG';
    if (!LEVELS.includes(minLevel)) throw new TypeError(`minLevel: expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(minLevel)}`);
    this.minRank = LEVEL_RANK[minLevel];
    const base = opts.logger ?? pino({ name: 'vigil' }, pino.destination({ dest: 1, sync: false }));
    this.lines = opts.logLine === false ? null : base.child({ component: 'audit' });
    this.log_ = base.child({ component: 'writer' });

    let sink: EventSink | (() => Promise<EventSink>);
    let spoolDir: string;
    if (opts.store) {
      sink = storeSink(opts.store, false);
      spoolDir = opts.spoolDir ?? join(opts.dataDir ?? './.vigil', 'spool');
    } else {
      const resolved = resolveStoreOptions(opts);
      spoolDir = opts.spoolDir ?? join(resolved.dataDir, 'spool');
      // Taken now, synchronously, so a held directory is a clear error at construction.
      const lock = resolved.kind === 'embedded' ? DataDirLock.acquire(resolved.dataDir, processCommand()) : undefined;
      this.lock = lock;
      sink = async () => {
        const store = await openStore(resolved, { lock, migrate: opts.migrate, postgres: { ...opts.postgres, onIdleError: () => undefined } });
        if (this.closing) {
          await store.close();
          throw new Error('the audit logger was closed while its store was opening');
        }
        return storeSink(store, true);
      };
    }
    this.writer = new BatchWriter({
      sink,
      spoolDir,
      log: this.log_,
      batchSize: opts.batchSize,
      flushIntervalMs: opts.flushIntervalMs,
      maxBufferedEvents: opts.maxBufferedEvents,
      maxSpoolBytes: opts.maxSpoolBytes,
      onCommit: opts.onCommit,
    });
  }

  /** The hot path shared by every method. */
  accept(v: Validated, now: number, eventType: string): LogResult {
    if (!v.ok) return this.refuse(now, eventType, formatProblems(v.problems));
    const row = v.row;
    if (LEVEL_RANK[row.level] >= this.minRank && !this.writer.push(row)) {
      return this.refuse(now, eventType, this.writer.refusalReason());
    }
    if (this.lines !== null) this.lines[PINO_METHOD[row.level]]({ event_id: row.id, event: row.metadata }, row.message);
    return { success: true, id: row.id, timestamp: iso(row.time) };
  }

  private refuse(now: number, eventType: string, error: string): LogResult {
    this.log_.warn({ event_type: eventType, error }, 'event refused');
    return { success: false, timestamp: iso(now), error };
  }

  logBuiltin(eventType: BuiltinEventType, fields: unknown, options: EnvelopeOptions | undefined): LogResult {
    const now = Date.now();
    try {
      return this.accept(validateBuiltin(eventType, fields, options, now), now, eventType);
    } catch (err) {
      return this.refuse(now, eventType, `internal error: ${(err as Error).message}`);
    }
  }

  log(event: AnyEvent): LogResult {
    const now = Date.now();
    const type = typeof event?.event_type === 'string' ? event.event_type : '(unknown)';
    try {
      return this.accept(validateEvent(event, now), now, type);
    } catch (err) {
      return this.refuse(now, type, `internal error: ${(err as Error).message}`);
    }
  }

  flush(options?: { timeoutMs?: number }): Promise<boolean> {
    return this.writer.flush(options);
  }

  stats(): WriterStats {
    return this.writer.stats();
  }

  async close(options?: { timeoutMs?: number }): Promise<boolean> {
    const ok = await this.writer.close(options);
    // A store still opening now is closed as soon as it opens (see the sink factory).
    this.closing = true;
    this.lock?.release();
    this.lines?.flush?.();
    return ok;
  }
}

for (const type of BUILTIN_EVENT_TYPES) {
  Object.defineProperty(LocalAuditLogger.prototype, methodName(type), {
    value: function (this: LocalAuditLogger, fields: unknown, options?: EnvelopeOptions) {
      return this.logBuiltin(type, fields, options);
    },
    writable: true,
    configurable: true,
  });
}

function processCommand(): string {
  return ['node', ...process.argv.slice(1).map((a) => a.split('/').pop())].join(' ').slice(0, 120);
}

/** Creates an in-process audit logger on the embedded database or PostgreSQL. */
export function createLocalLogger(options: LocalLoggerOptions = {}): AuditLogger {
  return new LocalAuditLogger(options) as unknown as AuditLogger;
}
