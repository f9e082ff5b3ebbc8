/** Where the batching writer commits: the store in-process, or a Vigil server over HTTP. */
import type { Store } from '../store/store.js';
import { insertEvents, isDataError } from './insertEvents.js';
import { chainAheadSliced, chainNext, mergePrepared, prepareRowsSliced, type ChainTail, type PreparedRows } from '../trust/chain.js';
import type { EventRow } from './types.js';

export interface EventSink {
  /**
   * Commits rows, idempotently (ids already stored are skipped). Throws when it could not.
   * `prepared` is what prepare() returned for these rows, when the writer called it.
   */
  write(rows: readonly EventRow[], prepared?: unknown): Promise<void>;
  /**
   * Optional: the CPU work of a write done ahead of time (encoding), so it overlaps with the
   * write in flight instead of running after it. Called for each sealed batch.
   */
  prepare?(rows: readonly EventRow[]): unknown | Promise<unknown>;
  /**
   * Optional: one write's preparation from those of its batches, made in write order (the next
   * write's while the one before it is in flight). Without it, only single-batch writes use
   * their preparation.
   */
  combine?(parts: readonly unknown[]): unknown | Promise<unknown>;
  /** Whether an error means these rows can never be written (their data was refused). */
  isPermanent(err: unknown): boolean;
  close(): Promise<void>;
}

/** The in-process sink: COPY into `logs`. */
export function storeSink(store: Store, ownsStore: boolean): EventSink {
  // Writes are combined in the order they are made: each is chained ahead from where the one
  // before it ends, while that one is being written (this writer is usually the only one).
  const tail: ChainTail = { last: null };
  return {
    write: async (rows, prepared) => {
      const p = prepared as PreparedRows | undefined;
      if (p !== undefined) chainNext(p, tail);
      await insertEvents(store, rows, p, tail);
    },
    // In slices, so the write in flight is not kept waiting for its round trips (chain.ts).
    prepare: (rows) => prepareRowsSliced(rows),
    combine: async (parts) => {
      const p = mergePrepared(parts as PreparedRows[]);
      await chainAheadSliced(p, tail);
      return p;
    },
    isPermanent: isDataError,
    close: async () => {
      if (ownsStore) await store.close();
    },
  };
}
