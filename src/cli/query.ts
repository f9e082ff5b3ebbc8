/** `vigil query`: events matching the filters, newest first, as a table or JSON. */
import { Option, type Command } from 'commander';
import type { StoredEvent } from '../events/queries.js';
import { connect } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { addFilterOptions, addStoreOptions, configFrom, filterQuery, type CommandFlags } from './options.js';
import { table } from './table.js';

export function eventTable(events: readonly StoredEvent[]): string {
  return table(
    ['TIME', 'LEVEL', 'TYPE', 'MESSAGE'],
    events.map((e) => [e.timestamp, e.level, String(e.log_metadata.event_type ?? ''), e.message]),
    [24, 8, 24, 120],
  );
}

export function registerQuery(program: Command, io: CliIo): void {
  const cmd = program
    .command('query')
    .description('list events matching the filters, newest first (the filters of GET /v1/events)')
    .option('--limit <n>', 'events to show, 1 to 1000', '50')
    .option('--cursor <cursor>', 'continue after an earlier page (its next_cursor)')
    .addOption(new Option('--order <order>', 'desc: newest first; asc: oldest first').choices(['desc', 'asc']).default('desc'))
    .option('--json', 'print the page as JSON: {events, next_cursor, head_cursor}');
  addStoreOptions(addFilterOptions(cmd)).action(async (flags: CommandFlags) => {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit: expected an integer from 1 to 1000, got "${flags.limit}"`);
    const query = filterQuery(flags);
    const backend = await connect(configFrom(flags, io), 'vigil query');
    try {
      const page = await backend.listEvents({ ...query, limit, cursor: flags.cursor, order: flags.order as 'desc' | 'asc' });
      if (flags.json) {
        io.stdout(JSON.stringify(page, null, 2) + '\n');
        return;
      }
      io.stdout(page.events.length === 0 ? 'no events\n' : eventTable(page.events));
      if (page.next_cursor !== null && flags.order !== 'asc') io.stderr(`more: --cursor ${page.next_cursor}\n`);
    } finally {
      await backend.close();
    }
  });
}
