/** `vigil tail`: print events as they arrive (polling the query API), until interrupted. */
import type { Command } from 'commander';
import type { StoredEvent } from '../events/queries.js';
import { connect } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { stopSignal } from './log.js';
import { addFilterOptions, addStoreOptions, configFrom, filterQuery, type CommandFlags } from './options.js';

/** Default pause between polls, in ms. */
export const DEFAULT_TAIL_INTERVAL_MS = 1_000;

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
      const first = await backend.listEvents({ ...query, limit: Math.max(lines, 1), order: 'desc' });
      if (lines > 0) for (const e of first.events.slice(0, lines).reverse()) io.stdout(line(e, json));
      let cursor = first.head_cursor ?? undefined;
      while (!stop.signal.aborted) {
        await sleep(interval, stop.signal);
        if (stop.signal.aborted) break;
        // Drain everything new before sleeping again.
        for (;;) {
          const page = await backend.listEvents({ ...query, limit: 1000, order: 'asc', cursor });
          for (const e of page.events) io.stdout(line(e, json));
          cursor = page.next_cursor ?? cursor;
          if (page.events.length < 1000 || stop.signal.aborted) break;
        }
      }
    } finally {
      stop.dispose();
      await backend.close();
    }
  });
}
