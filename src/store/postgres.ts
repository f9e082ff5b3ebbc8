/** The production store: a PostgreSQL server (15 or newer) through a connection pool. */
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { maskUrl, type QueryResult, type Store, type Tx } from './store.js';

/** Defaults, with units. */
export const PG_POOL_SIZE = 10;
export const PG_CONNECT_TIMEOUT_MS = 5_000;
export const PG_QUERY_TIMEOUT_MS = 60_000;

export interface PostgresOptions {
  poolSize?: number;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  /** Called with errors of idle connections (the server went away); they are dropped either way. */
  onIdleError?: (err: Error) => void;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly pool: pg.Pool;

  constructor(
    readonly url: string,
    opts: PostgresOptions = {},
  ) {
    this.description = maskUrl(url);
    this.pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? PG_POOL_SIZE,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? PG_CONNECT_TIMEOUT_MS,
      query_timeout: opts.queryTimeoutMs ?? PG_QUERY_TIMEOUT_MS,
      application_name: 'vigil',
      // Idle connections must not keep a finished process alive (the SDK promises exit flushes).
      allowExitOnIdle: true,
    });
    // An idle client losing its server must not crash the process: pg drops it from the pool.
    this.pool.on('error', (err) => opts.onIdleError?.(err));
  }

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const r = await this.pool.query(sql, params as unknown[]);
    return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  /**
   * Checks a client out of the pool. A checked-out client whose server goes away emits 'error';
   * unhandled, that would crash the process, so it is caught here and the client is discarded
   * (the query in flight fails on its own).
   */
  private async checkout(): Promise<{ client: pg.PoolClient; done: (err?: Error) => void }> {
    const client = await this.pool.connect();
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost = err;
    };
    client.on('error', onError);
    return {
      client,
      done: (err) => {
        client.removeListener('error', onError);
        client.release(err ?? lost);
      },
    };
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const { client, done } = await this.checkout();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const q: Tx = {
        query: async <R>(sql: string, params: readonly unknown[] = []) => {
          const r = await client.query(sql, params as unknown[]);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
        },
        exec: async (sql: string) => {
          await client.query(sql);
        },
        copyIn: async (table, columns, data) => {
          const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
          await pipeline(Readable.from([data]), stream);
        },
      };
      const result = await fn(q);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      done(broken);
    }
  }

  async copyIn(table: string, columns: readonly string[], data: string | Buffer): Promise<void> {
    const { client, done } = await this.checkout();
    let broken: Error | undefined;
    try {
      const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
      await pipeline(Readable.from([data]), stream);
    } catch (err) {
      // A failed COPY may leave the connection mid-protocol: never reuse it.
      broken = err as Error;
      throw err;
    } finally {
      done(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
