/**
 * Running the server: open (and migrate) the store, make the first admin key on an empty key
 * table, build the app, listen; and the graceful close: stop accepting, answer the requests in
 * flight (each after its commit), close the store, release the data directory.
 *
 * With the embedded database, the server holds the data directory's lock and records its URL in
 * it; it writes a local CLI key (`cli.key`, mode 0600, accepted from loopback only) next to it, so
 * `vigil keys|query|export|tail` on the same directory go through this server instead of failing.
 */
import { chmodSync, openSync, closeSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { VigilConfig } from '../config/config.js';
import { DataDirLock } from '../store/dataDirLock.js';
import { openStore, type ResolvedStore } from '../store/open.js';
import { maskUrl, StoreConfigError, type Store } from '../store/store.js';
import { countActiveKeys, createKey, generateKey } from './apiKeys.js';
import { buildApp, type VigilApp } from './app.js';
import { TrustService } from '../trust/service.js';
import { InterventionService } from '../interventions/service.js';
import { interventionConfigFrom, RuleRunner } from '../interventions/runner.js';
import { Outbox } from '../outbox/assemble.js';
import { inboxChannels, type InboxChannels } from '../notifications/inboxChannels.js';
import { ServerMetrics } from './metrics.js';
import { StreamHub } from './stream/hub.js';

/** In the data directory: the key local CLI commands use to reach the running server. */
export const LOCAL_KEY_FILE = 'cli.key';

export interface ServerHandle {
  url: string;
  store: Store;
  app: VigilApp;
  /** The admin key made on a first start with no keys, to print once. */
  firstAdminKey: string | null;
  /** Delivery: the channels, the recorder, and the worker unless `worker.enabled: false`. */
  outbox: Outbox;
  /** Graceful: stops accepting, answers in-flight requests, closes the store. Idempotent. */
  close(): Promise<void>;
}

export function resolvedStore(cfg: VigilConfig): ResolvedStore {
  return cfg.store.database_url !== undefined
    ? { kind: 'postgres', url: cfg.store.database_url, dataDir: cfg.store.data_dir }
    : { kind: 'embedded', dataDir: cfg.store.data_dir };
}

/** The address clients on this machine use: a wildcard listen address is reached on loopback. */
function urlFor(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

function writeSecret(path: string, secret: string): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, secret + '\n');
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

export async function startServer(cfg: VigilConfig, log: Logger, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ServerHandle> {
  const resolved = resolvedStore(cfg);
  const lock = resolved.kind === 'embedded' ? DataDirLock.acquire(resolved.dataDir, 'vigil serve') : undefined;
  let store: Store | undefined;
  let app: VigilApp | undefined;
  const localKeyPath = join(resolved.dataDir, LOCAL_KEY_FILE);
  let wroteLocalKey = false;
  let runner: RuleRunner | undefined;
  let outbox: Outbox | undefined;
  let hub: StreamHub | undefined;
  let inbox: InboxChannels | undefined;
  try {
    // Validated before the store is opened: a bad `interventions` section stops the start at once.
    const interventionConfig = interventionConfigFrom(cfg);
    const storeLog = log.child({ component: 'store' });
    try {
      store = await openStore(resolved, {
        lock,
        command: 'vigil serve',
        postgres: { poolSize: cfg.store.pool_size, onIdleError: (err) => storeLog.warn({ err: { message: err.message } }, 'idle database connection lost') },
      });
    } catch (err) {
      if (err instanceof StoreConfigError) throw err;
      const where = resolved.kind === 'postgres' ? maskUrl(resolved.url) : `the embedded database in ${resolved.dataDir}`;
      throw new StoreConfigError(`cannot open ${where}: ${(err as Error).message}`);
    }
    let firstAdminKey: string | null = null;
    if ((await countActiveKeys(store)) === 0) {
      firstAdminKey = (await createKey(store, { name: 'admin', scopes: ['admin'] })).key;
      log.info('no API key existed: created the admin key "admin" (printed once on standard output)');
    }
    const localKey = lock ? generateKey() : undefined;
    // Channels from `channels:` and the environment; a worker in this process unless `worker.enabled: false`.
    const metrics = new ServerMetrics();
    const ob = (outbox = new Outbox({ store, sections: cfg.file.sections, env: opts.env ?? process.env, log, registry: metrics.registry, routes: () => interventionConfig.routes }));
    // The live stream (relayed between processes on PostgreSQL) and the channels that live in the
    // server: websocket, in_app, and push to the users' stored subscriptions next to configured ones.
    hub = new StreamHub({ store, log });
    await hub.start();
    // Deliveries queued by other processes on the same PostgreSQL wake this server's worker.
    ob.wakeOnNotify(hub);
    inbox = await inboxChannels(store, hub, { push: ob.directory.channel('push') });
    for (const [name, channel] of inbox) ob.register(name, channel);
    const interventions = new InterventionService({ store, config: interventionConfig, logger: log, recorder: ob.recorder });
    const rules = new RuleRunner({ service: interventions, logger: log });
    runner = rules;
    // Signed checkpoints and retention on their schedules; partitions of this and next month now.
    const trust = new TrustService(store, cfg, log.child({ component: 'trust' }));
    await trust.preparePartitions();
    trust.key();
    app = await buildApp({
      store,
      log,
      interventions,
      trust,
      metrics,
      hub,
      outbox: { mask: (c, t) => ob.directory.maskTarget(c, t), retry: (id) => ob.retry(id) },
      // Stream rules follow `logs` (every writer's commits); this server's commits wake them at once.
      onCommit: () => rules.wake(),
      rateLimitPerMinute: cfg.server.rate_limit_per_minute,
      keyCacheTtlMs: cfg.server.key_cache_ttl_ms,
      localKey,
    });
    await app.listen({ host: cfg.server.host, port: cfg.server.port });
    rules.start();
    ob.start();
    trust.start();
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : cfg.server.port;
    const url = urlFor(cfg.server.host, port);
    if (lock && localKey) {
      // The key first, then the URL: a command that sees the URL finds the key.
      writeSecret(localKeyPath, localKey);
      wroteLocalKey = true;
      lock.setUrl(url);
    }
    let closing: Promise<void> | null = null;
    const s = store;
    const a = app;
    const h = hub;
    const ib = inbox;
    const close = () =>
      (closing ??= (async () => {
        if (wroteLocalKey) safeUnlink(localKeyPath);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), cfg.server.shutdown_timeout_ms);
        });
        const r = await Promise.race([a.close().then(() => 'closed' as const), timeout]);
        clearTimeout(timer);
        // Requests still open are answered by nothing: none of them was acknowledged.
        if (r === 'timeout') log.warn({ timeout_ms: cfg.server.shutdown_timeout_ms }, 'requests still open at the shutdown timeout were cut');
        trust.stop();
        // After the last commits, before the store: a last rule pass, then the escalation timer.
        await rules.close();
        // Sends in flight finish and are recorded; what is still queued waits for the next worker.
        await ob.close();
        await ib.close();
        await h.close();
        await s.close();
        lock?.release();
      })());
    return { url, store, app, firstAdminKey, outbox: ob, close };
  } catch (err) {
    if (wroteLocalKey) safeUnlink(localKeyPath);
    await app?.close().catch(() => undefined);
    await runner?.close().catch(() => undefined);
    await outbox?.close().catch(() => undefined);
    await inbox?.close().catch(() => undefined);
    await hub?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    lock?.release();
    throw err;
  }
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
