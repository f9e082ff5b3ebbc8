/** Where the batching writer commits: the store in-process, or a Vigil server over HTTP. */
import type { Store } from '../store/store.js';
import { insertEvents, isDataError } from './insertEvents.js';
import type { EventRow } from './types.js';

export interface EventSink {
  /** Commits rows, idempotently (ids already stored are skipped). Throws when it could not. */
  write(rows: readonly EventRow[]): Promise<void>;
  /** Whether an error means these rows can never be written (their data was refused). */
  isPermanent(err: unknown): boolean;
  close(): Promise<void>;
}

/** The in-process sink: COPY into `logs`. */
export function storeSink(store: Store, ownsStore: boolean): EventSink {
  return {
    write: async (rows) => {
      await insertEvents(store, rows);
    },
    isPermanent: isDataError,
    close: async () => {
      if (ownsStore) await store.close();
    },
  };
}
