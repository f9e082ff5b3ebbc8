/** Choosing and opening the store: PostgreSQL when a URL is given, the embedded database otherwise. */
import { resolve } from 'node:path';
import { DataDirLock } from './dataDirLock.js';
import { EmbeddedStore } from './embedded.js';
import { migrate } from './migrate.js';
import { PostgresStore, type PostgresOptions } from './postgres.js';
import { StoreConfigError, type Store } from './store.js';

/** Where the embedded database lives unless configured. */
export const DEFAULT_DATA_DIR = './.vigil';

export interface StoreOptions {
  /** A PostgreSQL URL (`postgres://user:pass@host:5432/db`); also `DATABASE_URL`. */
  databaseUrl?: string;
  /** The embedded database's directory; also `VIGIL_DATA_DIR`. Default `./.vigil`. */
  dataDir?: string;
  postgres?: PostgresOptions;
}

export type ResolvedStore = { kind: 'postgres'; url: string; dataDir: string } | { kind: 'embedded'; dataDir: string };

export function resolveStoreOptions(opts: StoreOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedStore {
  const dataDir = resolve(opts.dataDir ?? env.VIGIL_DATA_DIR ?? DEFAULT_DATA_DIR);
  const url = opts.databaseUrl ?? env.DATABASE_URL;
  if (url !== undefined && url !== '') {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new StoreConfigError(`database URL must start with postgres:// or postgresql://, got "${url.split(':')[0]}:…"`);
    }
    return { kind: 'postgres', url, dataDir };
  }
  return { kind: 'embedded', dataDir };
}

/**
 * Opens the store and applies pending migrations (unless `migrate: false`). For the embedded
 * store, pass a lock already taken (DataDirLock.acquire) to keep lock errors synchronous.
 */
export async function openStore(
  resolved: ResolvedStore,
  opts: { migrate?: boolean; lock?: DataDirLock; command?: string; postgres?: PostgresOptions } = {},
): Promise<Store> {
  const store: Store =
    resolved.kind === 'postgres'
      ? new PostgresStore(resolved.url, opts.postgres)
      : await EmbeddedStore.open(resolved.dataDir, { lock: opts.lock, command: opts.command });
  if (opts.migrate !== false) {
    try {
      await migrate(store);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }
  return store;
}
