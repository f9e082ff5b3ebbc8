/** The in-process logger: commits straight into the embedded database or PostgreSQL. */
import { join } from 'node:path';
import { storeSink, type EventSink } from '../events/sink.js';
import { DataDirLock } from '../store/dataDirLock.js';
import { DEFAULT_DATA_DIR, openStore, resolveStoreOptions, type StoreOptions } from '../store/open.js';
import type { Store } from '../store/store.js';
import { buildAuditLogger, type AuditLogger, type CommonLoggerOptions } from './auditLogger.js';

export interface LocalLoggerOptions extends CommonLoggerOptions, StoreOptions {
  /** Use this open store (not closed by the logger) instead of opening one. */
  store?: Store;
  /** Apply pending migrations when opening the store. Default true. */
  migrate?: boolean;
}

export function createLocalLogger(opts: LocalLoggerOptions = {}): AuditLogger {
  if (opts.store) {
    return buildAuditLogger(opts, {
      sink: storeSink(opts.store, false),
      spoolDir: opts.spoolDir ?? join(opts.dataDir ?? DEFAULT_DATA_DIR, 'spool'),
    });
  }
  const resolved = resolveStoreOptions(opts);
  // Taken now, synchronously, so a held directory is a clear error at construction.
  const lock = resolved.kind === 'embedded' ? DataDirLock.acquire(resolved.dataDir, processCommand()) : undefined;
  let closed = false;
  const sink = async (): Promise<EventSink> => {
    const store = await openStore(resolved, { lock, migrate: opts.migrate, postgres: { ...opts.postgres, onIdleError: () => undefined } });
    if (closed) {
      // The logger was closed while the store was opening.
      await store.close();
      throw new Error('the audit logger is closed');
    }
    return storeSink(store, true);
  };
  try {
    return buildAuditLogger(opts, {
      sink,
      spoolDir: opts.spoolDir ?? join(resolved.dataDir, 'spool'),
      onClose: () => {
        closed = true;
        lock?.release();
      },
    });
  } catch (err) {
    lock?.release();
    throw err;
  }
}

function processCommand(): string {
  return ['node', ...process.argv.slice(1).map((a) => a.split('/').pop())].join(' ').slice(0, 120);
}
