/** `vigil serve`: run the server until SIGTERM/SIGINT, then shut down gracefully. */
import type { Command } from 'commander';
import { startServer } from '../http/server.js';
import { addStoreOptions, configFrom } from './options.js';
import type { CliIo } from './io.js';
import { aborted, cliLogger, stopSignal } from './log.js';
import { outboxLine } from './worker.js';

export function registerServe(program: Command, io: CliIo): void {
  const cmd = program
    .command('serve')
    .description('run the Vigil server: the HTTP API (ingest, query, stats, keys), on 127.0.0.1:4870 unless configured')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; also VIGIL_HOST)')
    .option('--port <port>', 'port to listen on, 0 for any free port (default 4870; also VIGIL_PORT)');
  addStoreOptions(cmd).action(async (flags: Record<string, string>) => {
    const cfg = configFrom(flags, io);
    const log = cliLogger(cfg.log.level);
    const stop = stopSignal(io.signal);
    try {
      const server = await startServer(cfg, log, { env: io.env ?? process.env });
      // One write, the reference line last: whoever reads the banner knows when it is complete.
      let banner = `Vigil listening on ${server.url}\nStore: ${server.store.description}\n`;
      if (cfg.file.path) banner += `Config: ${cfg.file.path}\n`;
      banner += outboxLine(server.outbox);
      if (server.firstAdminKey !== null) {
        banner +=
          `\nNo API key existed, so an admin key was created. It is shown only this once; keep it:\n\n  ${server.firstAdminKey}\n\n` +
          'Make narrower keys with: vigil keys create --name NAME --scopes ingest\n\n';
      }
      io.stdout(banner + `API reference: ${server.url}/docs\n`);
      await aborted(stop.signal);
      log.info({ signal: String(stop.signal.reason ?? 'abort') }, 'shutting down: answering requests in flight, then closing the store');
      await server.close();
      log.info('stopped');
    } finally {
      stop.dispose();
    }
  });
}
