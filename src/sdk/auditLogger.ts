/**
 * The audit logger: the 12 typed methods of the design report and `log(event)`, over a batching
 * writer whose sink is the store (local.ts) or a Vigil server (remote.ts).
 *
 * A call validates, stamps id and time, writes one structured pino line, hands the row to the
 * batching writer and returns at once: it never throws and never waits for the database.
 */
import pino, { type Logger } from 'pino';
import { BUILTIN_EVENT_TYPES, LEVEL_RANK, LEVELS, methodName, type BuiltinEventType, type Level } from '../events/catalogue.js';
import type { AnyEvent, EnvelopeOptions, EventFields, EventRow, LogResult } from '../events/types.js';
import { formatProblems, validateBuiltin, validateEvent, type Validated } from '../events/validate.js';
import { BatchWriter, type WriterStats } from '../events/writer.js';
import type { EventSink } from '../events/sink.js';
import { PINO_METHOD } from './levels.js';
import { directLines, type EventLineWriter } from './eventLine.js';
import { canonicalJson } from '../trust/chain.js';

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

/** Options both loggers share. */
export interface CommonLoggerOptions {
  /** Events below this level are logged as lines but not stored. Default DEBUG (store all). */
  minLevel?: Level;
  /** Write one structured line per event (pino). Default true. */
  logLine?: boolean;
  /** The pino logger for event lines and Vigil's own messages. Default: pino to standard output. */
  logger?: Logger;
  /** Where batches wait while they cannot be committed. */
  spoolDir?: string;
  /** Events per batch (default 5,000); a backlog is committed up to four batches at a time. */
  batchSize?: number;
  /** Longest an event waits in memory before its batch is sealed, in ms (default 25). */
  flushIntervalMs?: number;
  /** Events held in memory before sealed batches are spilled to disk (default 100,000). */
  maxBufferedEvents?: number;
  /** Spool size beyond which new events are refused, in bytes (default 1 GiB). */
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

export interface LoggerParts {
  /** Builds the sink the writer commits to (called again after a failure until it succeeds). */
  sink: EventSink | (() => Promise<EventSink>);
  spoolDir: string;
  /** Runs after the writer is closed. */
  onClose?: () => Promise<void> | void;
}

class AuditLoggerImpl implements AuditLoggerBase {
  private readonly minRank: number;
  private readonly lines: Logger | null;
  /** The lines built here rather than by pino, when the logger allows it (eventLine.ts). */
  private readonly direct: EventLineWriter | null;
  private readonly log_: Logger;
  private readonly writer: BatchWriter;

  constructor(
    opts: CommonLoggerOptions,
    private readonly parts: LoggerParts,
  ) {
    const minLevel = opts.minLevel ?? 'DEBUG';
    if (!LEVELS.includes(minLevel)) throw new TypeError(`minLevel: expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(minLevel)}`);
    this.minRank = LEVEL_RANK[minLevel];
    const base = opts.logger ?? defaultPino();
    this.lines = opts.logLine === false ? null : base.child({ component: 'audit' });
    this.direct = this.lines === null ? null : directLines(this.lines);
    this.log_ = base.child({ component: 'writer' });
    this.writer = new BatchWriter({
      sink: parts.sink,
      spoolDir: parts.spoolDir,
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
    // With lines built here, the metadata's JSON is made once: for the line and the stored row.
    if (this.direct !== null) row.metaJson = canonicalJson(row.metadata) ?? '{}';
    if (LEVEL_RANK[row.level] >= this.minRank && !this.writer.push(row)) {
      return this.refuse(now, eventType, this.writer.refusalReason());
    }
    if (this.direct !== null) this.direct.write(row.level, row.id, row.metadata, row.metaJson!, row.message);
    else if (this.lines !== null) this.lines[PINO_METHOD[row.level]]({ event_id: row.id, event: row.metadata }, row.message);
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
    await this.parts.onClose?.();
    this.direct?.close();
    this.lines?.flush?.();
    return ok;
  }
}

for (const type of BUILTIN_EVENT_TYPES) {
  Object.defineProperty(AuditLoggerImpl.prototype, methodName(type), {
    value: function (this: AuditLoggerImpl, fields: unknown, options?: EnvelopeOptions) {
      return this.logBuiltin(type, fields, options);
    },
    writable: true,
    configurable: true,
  });
}

function defaultPino(): Logger {
  return pino({ name: 'vigil' }, pino.destination({ dest: 1, sync: false }));
}

/** Assembles a logger from its sink; see local.ts and remote.ts. */
export function buildAuditLogger(opts: CommonLoggerOptions, parts: LoggerParts): AuditLogger {
  return new AuditLoggerImpl(opts, parts) as unknown as AuditLogger;
}
