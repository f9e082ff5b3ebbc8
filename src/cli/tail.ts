/**
 * `vigil tail`: print events as they arrive, until interrupted.
 *
 * On the database (PostgreSQL, or an embedded store no server holds) it follows the trail as the
 * live stream does (TrailFollower): several writers on one PostgreSQL commit out of `seq` order,
 * and a row committing after a newer one is still printed, once, when it commits. Through a server
 * holding the embedded store it polls the query API: that server is the store's only writer and
 * PGlite runs one transaction at a time, so rows become visible in `seq` order.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { encodeCursor, listEvents, type EventFilters, type StoredEvent } from '../events/queries.js';
import type { EventRow } from '../events/types.js';
import { toFilters, type FilterQuery } from '../http/filters.js';
import { TrailFollower } from '../http/stream/follower.js';
import { connect, DirectBackend, type Backend } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { aborted, stopSignal } from './log.js';
import { addFilterOptions, addStoreOptions, configFrom, filterQuery, type CommandFlags } from './options.js';

/** Default pause between polls, in ms. */
export const DEFAULT_TAIL_INTERVAL_MS = 1_000;
/** Seqs below the end of the trail looked at when tail starts: rows committing into them are printed. */
export const TAIL_LOOK_BACK = 1_000;

function line(e: StoredEvent, json: boolean): string {
  return json ? JSON.stringify(e) + '\n' : `${e.timestamp}  ${e.level.padEnd(8)} ${String(e.log_metadata.event_type ?? '').padEnd(20)} ${e.message.replace(/\s+/g, ' ')}\n`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function registerTail(program: Command, io: CliIo): void {
  const cmd = program
    .command('tail')
    .description('print events matching the filters as they arrive, oldest first, until Ctrl-C')
    .option('-n, --lines <n>', 'recent events to print first, 0 to 1000', '10')
    .option('--interval <ms>', 'pause between polls, in milliseconds', String(DEFAULT_TAIL_INTERVAL_MS))
    .option('--json', 'one JSON event per line');
  addStoreOptions(addFilterOptions(cmd)).action(async (flags: CommandFlags) => {
    const lines = Number(flags.lines);
    const interval = Number(flags.interval);
    if (!Number.isInteger(lines) || lines < 0 || lines > 1000) throw new CliError(`--lines: expected an integer from 0 to 1000, got "${flags.lines}"`);
    if (!Number.isInteger(interval) || interval < 10) throw new CliError(`--interval: expected an integer of at least 10 (ms), got "${flags.interval}"`);
    const query = filterQuery(flags);
    const json = Boolean(flags.json);
    const stop = stopSignal(io.signal);
    const backend = await connect(configFrom(flags, io), 'vigil tail');
    try {
      const print = (e: StoredEvent) => io.stdout(line(e, json));
      if (backend instanceof DirectBackend) await follow(backend, toFilters(query), { lines, interval, signal: stop.signal, print, io });
      else await poll(backend, query, { lines, interval, signal: stop.signal, print });
    } finally {
      stop.dispose();
      await backend.close();
    }
  });
}

interface TailRun {
  lines: number;
  interval: number;
  signal: AbortSignal;
  print: (e: StoredEvent) => void;
}

function storedEvent(r: EventRow): StoredEvent {
  return { id: r.id, level: r.level, message: r.message, timestamp: new Date(r.time).toISOString(), log_metadata: r.metadata };
}

/** Follows the trail on the database: every matching row committed after tail starts, once. */
async function follow(backend: DirectBackend, filters: EventFilters, run: TailRun & { io: CliIo }): Promise<void> {
  // The follower's warnings (the database unreachable: it keeps trying) as plain lines on stderr.
  const log = pino({ level: 'warn' }, { write: (s: string) => run.io.stderr(`vigil tail: ${warning(s)}\n`) });
  let shown: Set<string> | null = null;
  let held: EventRow[] = [];
  const deliver = (rows: EventRow[]) => {
    if (shown === null) held.push(...rows);
    else for (const r of rows) if (!shown.has(r.id)) run.print(storedEvent(r));
  };
  const follower = new TrailFollower({ db: backend.store, log, deliver, filters, pollMs: run.interval, lookBack: TAIL_LOOK_BACK });
  await follower.start();
  try {
    // The recent events up to where the follower began; a row in a look-back hole that commits
    // meanwhile may come from both: printed once.
    const before = encodeCursor(String((follower.position ?? 0) + 1));
    const first = run.lines === 0 ? [] : (await listEvents(backend.store, filters, { order: 'desc', limit: run.lines, cursor: before })).events;
    for (const e of first.reverse()) run.print(e);
    shown = new Set(first.map((e) => e.id));
    deliver(held);
    held = [];
    // The follower's timer does not hold the process open (a server's must not): this one does.
    const open = setInterval(() => undefined, 3_600_000);
    await aborted(run.signal).finally(() => clearInterval(open));
  } finally {
    await follower.stop();
  }
}

/** A pino line's message and error, for a person. */
function warning(jsonLine: string): string {
  try {
    const o = JSON.parse(jsonLine) as { msg?: string; err?: { message?: string } };
    return o.err?.message ? `${o.msg ?? ''} (${o.err.message})` : (o.msg ?? jsonLine.trim());
  } catch {
    return jsonLine.trim();
  }
}

/** Polls the query API of the server holding the embedded store (its only writer). */
async function poll(backend: Backend, query: FilterQuery, run: TailRun): Promise<void> {
  const first = await backend.listEvents({ ...query, limit: Math.max(run.lines, 1), order: 'desc' });
  if (run.lines > 0) for (const e of first.events.slice(0, run.lines).reverse()) run.print(e);
  let cursor = first.head_cursor ?? undefined;
  while (!run.signal.aborted) {
    await sleep(run.interval, run.signal);
    if (run.signal.aborted) break;
    // Drain everything new before sleeping again.
    for (;;) {
      const page = await backend.listEvents({ ...query, limit: 1000, order: 'asc', cursor });
      for (const e of page.events) run.print(e);
      cursor = page.next_cursor ?? cursor;
      if (page.events.length < 1000 || run.signal.aborted) break;
    }
  }
}
