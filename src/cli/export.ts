/** `vigil export`: every event matching the filters as NDJSON or CSV, with progress on stderr. */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Option, type Command } from 'commander';
import type { ExportFormat } from '../http/exportFormat.js';
import { connect } from './backend.js';
import type { CliIo } from './io.js';
import { addFilterOptions, addStoreOptions, configFrom, filterQuery, type CommandFlags } from './options.js';

/** How often the progress line is redrawn on a terminal, in ms. */
const PROGRESS_EVERY_MS = 200;

/** Counts records in the output: lines, except newlines inside quoted CSV fields. */
class RecordCounter {
  records = 0;
  bytes = 0;
  private inQuote = false;
  constructor(private readonly format: ExportFormat) {}
  add(chunk: string): void {
    this.bytes += Buffer.byteLength(chunk);
    if (this.format === 'ndjson') {
      for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) this.records++;
      return;
    }
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 34) this.inQuote = !this.inQuote;
      else if (c === 10 && !this.inQuote) this.records++;
    }
  }
  /** CSV's header line is not an event. */
  get events(): number {
    return this.format === 'csv' ? Math.max(0, this.records - 1) : this.records;
  }
}

export function registerExport(program: Command, io: CliIo): void {
  const cmd = program
    .command('export')
    .description('write every event matching the filters as NDJSON or CSV (to a file or standard output); progress on stderr')
    .addOption(new Option('--format <format>', 'ndjson or csv').choices(['ndjson', 'csv']).default('ndjson'))
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .addOption(new Option('--order <order>', 'desc: newest first; asc: oldest first').choices(['desc', 'asc']).default('desc'))
    .option('--quiet', 'no progress on stderr');
  addStoreOptions(addFilterOptions(cmd)).action(async (flags: CommandFlags) => {
    const format = flags.format as ExportFormat;
    const query = { ...filterQuery(flags), order: flags.order as 'desc' | 'asc' };
    const backend = await connect(configFrom(flags, io), 'vigil export');
    const file: WriteStream | null = flags.output ? createWriteStream(flags.output) : null;
    const counter = new RecordCounter(format);
    let last = 0;
    const progress = (final: boolean) => {
      if (flags.quiet) return;
      const text = `exported ${counter.events} events (${(counter.bytes / 1024 / 1024).toFixed(1)} MiB)`;
      if (io.isTTY) io.stderr(`\r${text}${final ? '\n' : ''}`);
      else if (final) io.stderr(text + '\n');
    };
    try {
      for await (const chunk of backend.exportEvents(query, format)) {
        counter.add(chunk);
        if (file) {
          if (!file.write(chunk)) await once(file, 'drain');
        } else io.stdout(chunk);
        const now = Date.now();
        if (now - last >= PROGRESS_EVERY_MS) {
          last = now;
          progress(false);
        }
      }
      progress(true);
    } finally {
      if (file) {
        file.end();
        await once(file, 'close');
      }
      await backend.close();
    }
  });
}
