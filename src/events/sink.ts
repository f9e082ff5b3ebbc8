/** Where the batching writer commits: the store in-process, or a Vigil server over HTTP. */
import type { Store } from '../store/store.js';
import { insertEvents, isDataError } from './insertEvents.js';
import { chainAhead, prepareRows, type ChainTail, type PreparedRows } from '../trust/chain.js';
import type { EventRow } from './types.js';

export interface EventSink {
  /**
   * Commits rows, idempotently (ids already stored are skipped). Throws when it could not.
   * `prepared` is what prepare() returned for these rows, when the writer called it.
   */
  write(rows: readonly EventRow[], prepared?: unknown): Promise<void>;
  /**
   * Optional: the CPU work of a write done ahead of time (encoding), so it overlaps with the
   * write in flight instead of running after it.
   */
  prepare?(rows: readonly EventRow[]): unknown;
  /** Whether an error means these rows can never be written (their data was refused). */
  isPermanent(err: unknown): boolean;
  close(): Promise<void>;
}

/** The in-process sink: COPY into `logs`. */
export function storeSink(store: Store, ownsStore: boolean): EventSink {
  // Batches are prepared in the order they are written: each is chained ahead from where the one
  // before it ends, while that one is being written (this writer is usually the only one).
  const tail: ChainTail = { last: null };
  return {
    write: async (rows, prepared) => {
      await insertEvents(store, rows, prepared as PreparedRows | undefined, tail);
    },
    prepare: (rows) => {
      const p = prepareRows(rows);
      chainAhead(p, tail);
      return p;
    },
    isPermanent: isDataError,
    close: async () => {
      if (ownsStore) await store.close();
    },
  };
}
