/**
 * What CLI commands work on: the store directly, or — when a `vigil serve` holds the embedded
 * database — that server's HTTP API, with the local CLI key it wrote into the data directory.
 * Commands never open an embedded database another process holds (that corrupts it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VigilConfig } from '../config/config.js';
import { listEvents, scanEvents, type Page } from '../events/queries.js';
import { createKey, listKeys, revokeKey, type ApiKeyInfo, type NewKey } from '../http/apiKeys.js';
import { renderExport, type ExportFormat } from '../http/exportFormat.js';
import { toFilters, type FilterQuery } from '../http/filters.js';
import { LOCAL_KEY_FILE, resolvedStore } from '../http/server.js';
import { DataDirLock, readLock } from '../store/dataDirLock.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { RemoteBackend } from './remote.js';

export type ListQuery = FilterQuery & { limit?: number; cursor?: string };

export interface Backend {
  /** What the command works on, for messages: the store, or the server's URL. */
  readonly description: string;
  listEvents(q: ListQuery): Promise<Page>;
  /** The export as text chunks. */
  exportEvents(q: FilterQuery, format: ExportFormat): AsyncIterable<string>;
  createKey(k: NewKey): Promise<ApiKeyInfo & { key: string }>;
  listKeys(includeRevoked: boolean): Promise<ApiKeyInfo[]>;
  revokeKey(ref: string): Promise<ApiKeyInfo>;
  close(): Promise<void>;
}

export class DirectBackend implements Backend {
  readonly description: string;
  constructor(readonly store: Store) {
    this.description = store.description;
  }
  listEvents(q: ListQuery): Promise<Page> {
    return listEvents(this.store, toFilters(q), { cursor: q.cursor, order: q.order, limit: q.limit });
  }
  exportEvents(q: FilterQuery, format: ExportFormat): AsyncIterable<string> {
    return renderExport(format, scanEvents(this.store, toFilters(q), { order: q.order }));
  }
  createKey(k: NewKey) {
    return createKey(this.store, k);
  }
  listKeys(includeRevoked: boolean) {
    return listKeys(this.store, { includeRevoked });
  }
  revokeKey(ref: string) {
    return revokeKey(this.store, ref);
  }
  close(): Promise<void> {
    return this.store.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running server holding this embedded data directory, if any, with its local key. */
export function runningServer(dataDir: string): { url: string; key: string; pid: number } | null {
  const holder = readLock(dataDir);
  if (holder === null || holder.url === undefined || !alive(holder.pid)) return null;
  const keyPath = join(dataDir, LOCAL_KEY_FILE);
  if (!existsSync(keyPath)) return null;
  return { url: holder.url, key: readFileSync(keyPath, 'utf8').trim(), pid: holder.pid };
}

/**
 * Opens what `command` works on. `remote: false` for commands that must not go through a server
 * (`migrate`): they stop with DataDirLockedError, naming the holder's pid, when one runs.
 */
export async function connect(cfg: VigilConfig, command: string, opts: { remote?: boolean; migrate?: boolean } = {}): Promise<Backend> {
  const resolved = resolvedStore(cfg);
  if (resolved.kind === 'embedded' && opts.remote !== false) {
    const server = runningServer(resolved.dataDir);
    if (server !== null) return new RemoteBackend(server.url, server.key, `the server at ${server.url} (process ${server.pid}), which holds ${resolved.dataDir}`);
  }
  const lock = resolved.kind === 'embedded' ? DataDirLock.acquire(resolved.dataDir, command) : undefined;
  try {
    return new DirectBackend(await openStore(resolved, { lock, command, migrate: opts.migrate }));
  } catch (err) {
    lock?.release();
    throw err;
  }
}
