/** `vigil migrate`: apply pending database migrations (the server also does so when it starts). */
import type { Command } from 'commander';
import { migrate } from '../store/migrate.js';
import { connect, DirectBackend } from './backend.js';
import type { CliIo } from './io.js';
import { addStoreOptions, configFrom } from './options.js';

export function registerMigrate(program: Command, io: CliIo): void {
  const cmd = program.command('migrate').description('apply pending database migrations (vigil serve also applies them at start)');
  addStoreOptions(cmd).action(async (flags: Record<string, string>) => {
    const cfg = configFrom(flags, io);
    // Never through a server: a running server already migrated the database it holds.
    const backend = (await connect(cfg, 'vigil migrate', { remote: false, migrate: false })) as DirectBackend;
    try {
      const r = await migrate(backend.store);
      io.stdout(
        r.applied.length === 0
          ? `${backend.description}: up to date (version ${r.current})\n`
          : `${backend.description}: applied ${r.applied.join(', ')} (now version ${r.current})\n`,
      );
    } finally {
      await backend.close();
    }
  });
}
