/**
 * The delivery side of the pipeline, assembled in one place:
 *
 *   config `channels:` + environment + extra channels → directory
 *   directory → OutboxRecorder (the InterventionService's recorder; wakes the worker)
 *   directory → OutboxWorker (claims, sends, retries, falls back)
 *     onAttempt → metrics · onTargetGone → remove the target · onChannelUnhealthy → an intervention
 *
 * `vigil serve` builds one with a worker unless `worker.enabled: false`; `vigil worker` builds one
 * with a worker and nothing else. `start()` starts the worker and the depth gauge; `close()` drains
 * the worker, then closes the channels (the store belongs to the caller).
 */
import pino, { type Logger } from 'pino';
import { resolveInterventionConfig } from '../interventions/config.js';
import { DEFAULT_ROUTES, type Route } from '../interventions/routing.js';
import type { Registry } from '../http/metrics.js';
import { PostgresStore } from '../store/postgres.js';
import type { Store } from '../store/store.js';
import { systemClock, type Clock } from '../util/clock.js';
import { BUILTIN_CHANNELS, buildDirectory, type AssembledDirectory, type ExtraChannel } from './channelDirectory.js';
import { openChannelFailing, targetGoneHandler } from './health.js';
import { OutboxMetrics } from './metrics.js';
import { OUTBOX_CHANNEL, OutboxRecorder } from './recorder.js';
import { resolveWorkerSettings, type WorkerSettings } from './settings.js';
import { retryNow, type RetryAnswer } from './views.js';
import { OutboxWorker } from './worker.js';

export type { ExtraChannel } from './channelDirectory.js';

export interface OutboxOptions {
  store: Store;
  /** The config file's sections: `channels`, `worker`, `interventions` (for the routing table). */
  sections: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  clock?: Clock;
  /** Channels other components provide (`websocket`, `in_app`), by the name routes use. */
  extra?: ReadonlyMap<string, ExtraChannel>;
  /** Run a worker in this process: default `worker.enabled` of the config. */
  worker?: boolean;
  /** Overrides of the `worker:` settings (tests). */
  workerSettings?: Partial<WorkerSettings>;
  /** Where the metrics go (the server's registry); none: not exported. */
  registry?: Registry;
  /** The routing table the CHANNEL_FAILING intervention is routed by; default the config's. */
  routes?: () => readonly Route[];
}

export class Outbox {
  readonly directory: AssembledDirectory;
  readonly recorder: OutboxRecorder;
  readonly worker: OutboxWorker | null;
  readonly metrics: OutboxMetrics | null;
  readonly settings: WorkerSettings;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: Logger;
  private closed: Promise<void> | null = null;

  constructor(opts: OutboxOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? pino({ level: 'silent' })).child({ component: 'outbox' });
    const env = opts.env ?? process.env;
    this.settings = { ...resolveWorkerSettings(opts.sections.worker, env), ...opts.workerSettings };
    const channelLog = this.log.child({ component: 'channels' });
    this.directory = buildDirectory({ sections: opts.sections, env, extra: opts.extra, logger: channelLog });
    const runWorker = opts.worker ?? this.settings.enabled;
    // Channels of the default table that are not set up here get no rows; others are recorded dead.
    // The default table's channels may have no target here (not set up, or no subscriber yet).
    this.recorder = new OutboxRecorder(this.directory, this.clock, () => this.worker?.wake(), { optional: BUILTIN_CHANNELS, notify: this.store instanceof PostgresStore });
    this.metrics = opts.registry ? new OutboxMetrics(opts.registry, this.store, this.log) : null;
    const routes = opts.routes ?? configRoutes(opts.sections.interventions);
    if (!runWorker) {
      this.worker = null;
      return;
    }
    const s = this.settings;
    this.worker = new OutboxWorker({
      store: this.store,
      directory: this.directory,
      log: this.log,
      clock: this.clock,
      concurrency: s.concurrency,
      perChannelConcurrency: s.per_channel_concurrency,
      pollIntervalMs: s.poll_interval_ms,
      leaseMs: s.lease_ms,
      sendTimeoutMs: s.send_timeout_ms,
      unhealthyAfter: s.unhealthy_after,
      onAttempt: this.metrics?.onAttempt,
      onTargetGone: targetGoneHandler({ store: this.store, directory: this.directory, metrics: this.metrics ?? undefined, log: this.log }),
      onChannelUnhealthy: async (channel, detail) => {
        await openChannelFailing({ store: this.store, recorder: this.recorder, routes, clock: this.clock, log: this.log }, channel, detail);
      },
    });
  }

  /**
   * Adds a channel another component provides once it exists (the WebSocket hub, the inbox, push
   * subscriptions): deliveries routed to it from now on are sent through it. Pass
   * `directory.channel('push')` as the push channel to keep the configured push targets too.
   */
  register(name: string, extra: ExtraChannel): void {
    this.directory.addExtra(name, extra);
  }

  start(): void {
    this.metrics?.start();
    this.worker?.start();
    this.log.info({ worker: this.worker?.id ?? null, channels: this.directory.summary() }, this.worker ? 'outbox worker started' : 'outbox ready (no worker in this process)');
  }

  /** Puts a dead or waiting delivery back in the queue now, with the channel's attempts budget again. */
  async retry(id: string): Promise<RetryAnswer> {
    const answer = await retryNow(this.store, id, this.clock.now(), (c) => this.directory.maxAttempts(c));
    if (answer.ok) {
      this.worker?.wake();
      // The other processes' workers too (best effort: failing that, they look at their next poll).
      if (this.store instanceof PostgresStore) await this.store.query(`NOTIFY ${OUTBOX_CHANNEL}`).catch(() => undefined);
    }
    return answer;
  }

  /**
   * Wakes this process's worker when any process queues deliveries on the same PostgreSQL (the
   * hub's relay listens on `vigil_outbox`); nothing on the embedded store, where the recorder
   * wakes it.
   */
  wakeOnNotify(hub: { onOutboxDue(fn: () => void): void }): void {
    hub.onOutboxDue(() => this.worker?.wake());
  }

  /** Drains the worker (sends in flight finish and are recorded), then closes the channels. Idempotent. */
  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.closed ??= (async () => {
      await this.worker?.close(opts);
      await this.metrics?.close();
      await this.directory.close();
    })();
    return this.closed;
  }
}

/** The routing table of the config's `interventions:` section (the default one when absent or invalid). */
function configRoutes(section: unknown): () => readonly Route[] {
  let routes: readonly Route[] = DEFAULT_ROUTES;
  try {
    routes = resolveInterventionConfig(section ?? {}).routes;
  } catch {
    // The InterventionService refuses an invalid section at start-up with every problem listed.
  }
  return () => routes;
}
