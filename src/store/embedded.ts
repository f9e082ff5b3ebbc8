/** The embedded store: PGlite, real PostgreSQL compiled to WASM, in this process. */
import { PGlite } from '@electric-sql/pglite';
import { join, resolve } from 'node:path';
import { DataDirLock } from './dataDirLock.js';
import type { QueryResult, Store, Tx } from './store.js';

export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  readonly description: string;
  /** PGlite runs one statement at a time; transactions hold this chain so others wait. */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: PGlite,
    private readonly lock: DataDirLock | null,
    readonly dataDir: string,
  ) {
    this.description = `embedded database in ${dataDir}`;
  }

  /**
   * Opens (creating if needed) the embedded database in `dataDir`. Pass a lock taken earlier with
   * DataDirLock.acquire, or let this take one.
   */
  static async open(dataDir: string, opts: { lock?: DataDirLock; command?: string } = {}): Promise<EmbeddedStore> {
    const dir = resolve(dataDir);
    const lock = opts.lock ?? DataDirLock.acquire(dir, opts.command ?? 'vigil');
    try {
      const db = await PGlite.create({ dataDir: join(dir, 'pgdata') });
      return new EmbeddedStore(db, lock, dir);
    } catch (err) {
      // A lock handed in stays with its owner, who may retry.
      if (!opts.lock) lock.release();
      throw err;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    return this.serial(async () => {
      const r = await this.db.query<R>(sql, params as unknown[]);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    });
  }

  exec(sql: string): Promise<void> {
    return this.serial(async () => {
      await this.db.exec(sql);
    });
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.serial(() =>
      this.db.transaction(async (tx) => {
        const q: Tx = {
          query: async <R>(sql: string, params: readonly unknown[] = []) => {
            const r = await tx.query<R>(sql, params as unknown[]);
            return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
          },
          exec: async (sql: string) => {
            await tx.exec(sql);
          },
          copyIn: async (table, columns, data) => {
            await tx.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], { blob: new Blob([data]) });
          },
        };
        return fn(q);
      }),
    );
  }

  copyIn(table: string, columns: readonly string[], data: string | Buffer): Promise<void> {
    return this.serial(async () => {
      await this.db.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], { blob: new Blob([data]) });
    });
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      if (!this.db.closed) await this.db.close();
    });
    this.lock?.release();
  }
}
