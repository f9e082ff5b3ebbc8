/**
 * `vigil worker`: an outbox worker alone, sending what any server on the same PostgreSQL queued
 * (FOR UPDATE SKIP LOCKED: any number of workers, no delivery sent twice). SIGTERM/SIGINT stop it
 * gracefully: it claims nothing more, lets sends in flight finish (aborting them after
 * `server.shutdown_timeout_ms`), records them, and exits.
 *
 * The embedded database belongs to one process: a worker runs on it only when no server holds it
 * (to drain a queue by hand); a server on it runs its own worker.
 */
import type { Command } from 'commander';
import { resolvedStore } from '../http/server.js';
import { StreamHub } from '../http/stream/hub.js';
import { InterventionService } from '../interventions/service.js';
import { interventionConfigFrom, RuleRunner } from '../interventions/runner.js';
import { inboxChannels } from '../notifications/inboxChannels.js';
import { Outbox } from '../outbox/assemble.js';
import { DataDirLock } from '../store/dataDirLock.js';
import { openStore } from '../store/open.js';
import { runningServer } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { aborted, cliLogger, stopSignal } from './log.js';
import { addStoreOptions, configFrom } from './options.js';

/** The banner line naming the worker and the channels (masked), for `serve` and `worker`. */
export function outboxLine(outbox: Outbox): string {
  const names = outbox.directory.names();
  const channels = names.length === 0 ? 'no channel configured' : `channels: ${names.join(', ')}`;
  return outbox.worker ? `Outbox: worker ${outbox.worker.id} (${channels})\n` : `Outbox: no worker in this process (worker.enabled: false; ${channels})\n`;
}

export function registerWorker(program: Command, io: CliIo): void {
  const cmd = program
    .command('worker')
    .description('run an outbox worker alone: send the deliveries servers on the same PostgreSQL queued, until SIGTERM/SIGINT')
    .option('--concurrency <n>', 'sends in flight at once (default: worker.concurrency, 64)');
  addStoreOptions(cmd).action(async (flags: Record<string, string>) => {
    const cfg = configFrom(flags, io);
    const env = io.env ?? process.env;
    let concurrency: number | undefined;
    if (flags.concurrency !== undefined) {
      if (!/^\d+$/.test(flags.concurrency) || Number(flags.concurrency) < 1) throw new CliError(`--concurrency: expected a positive integer, got "${flags.concurrency}"`);
      concurrency = Number(flags.concurrency);
    }
    const resolved = resolvedStore(cfg);
    let lock: DataDirLock | undefined;
    if (resolved.kind === 'embedded') {
      const server = runningServer(resolved.dataDir);
      if (server !== null) {
        throw new CliError(
          `vigil worker needs PostgreSQL to share the outbox with a server: the embedded database in ${resolved.dataDir} is held by the server at ${server.url} (process ${server.pid}), ` +
            'which sends with its own worker (worker.enabled). Give --database-url (or DATABASE_URL) to run workers beside servers.',
        );
      }
      lock = DataDirLock.acquire(resolved.dataDir, 'vigil worker');
    }
    const log = cliLogger(cfg.log.level);
    const stop = stopSignal(io.signal);
    let outbox: Outbox | undefined;
    const store = await openStore(resolved, { lock, command: 'vigil worker', postgres: { poolSize: Math.min(cfg.store.pool_size, 4) } }).catch((err: unknown) => {
      lock?.release();
      stop.dispose();
      throw err;
    });
    // Relays stream messages to the servers' clients (PostgreSQL); serves no client itself.
    const hub = new StreamHub({ store, log });
    let rules: RuleRunner | undefined;
    try {
      const interventionConfig = interventionConfigFrom(cfg);
      await hub.start();
      outbox = new Outbox({ store, sections: cfg.file.sections, env, log, worker: true, workerSettings: concurrency ? { concurrency } : {}, routes: () => interventionConfig.routes });
      // Deliveries the servers queue wake this worker at once (LISTEN vigil_outbox), not at its next poll.
      outbox.wakeOnNotify(hub);
      const inbox = await inboxChannels(store, hub, { push: outbox.directory.channel('push') });
      for (const [name, channel] of inbox) outbox.register(name, channel);
      // Stream rules and escalation run here too, so a deployment of workers alone still decides.
      const interventions = new InterventionService({ store, config: interventionConfig, logger: log, recorder: outbox.recorder });
      rules = new RuleRunner({ service: interventions, logger: log });
      rules.start();
      outbox.start();
      io.stdout(`Vigil worker sending from ${store.description}\n${outboxLine(outbox)}`);
      await aborted(stop.signal);
      log.info({ signal: String(stop.signal.reason ?? 'abort') }, 'shutting down: finishing sends in flight');
      await rules.close();
      await outbox.close({ timeoutMs: cfg.server.shutdown_timeout_ms });
      await inbox.close();
      const counters = Object.fromEntries(outbox.worker!.counters);
      log.info({ counters }, 'stopped');
      io.stdout('Vigil worker stopped\n');
    } finally {
      await rules?.close().catch(() => undefined);
      await outbox?.close().catch(() => undefined);
      await hub.close().catch(() => undefined);
      await store.close();
      lock?.release();
      stop.dispose();
    }
  });
}
