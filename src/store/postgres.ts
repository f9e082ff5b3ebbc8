/** The production store: a PostgreSQL server (15 or newer) through a connection pool. */
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';
import { maskUrl, type QueryOptions, type QueryResult, type Store, type Tx } from './store.js';

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

/** Names of prepared statements, by their text: one name per text, so a connection never sees a name twice with two texts. */
const statementNames = new Map<string, string>();

/** pg's query argument: by name (prepared once per connection) when asked, else plain text. */
function queryConfig(sql: string, params: readonly unknown[], options?: QueryOptions): pg.QueryConfig {
  if (!options?.prepare) return { text: sql, values: params as unknown[] };
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `vigil_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, values: params as unknown[] };
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

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = [], options?: QueryOptions): Promise<QueryResult<R>> {
    const r = await this.pool.query(queryConfig(sql, params, options));
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
        query: async <R>(sql: string, params: readonly unknown[] = [], options?: QueryOptions) => {
          const r = await client.query(queryConfig(sql, params, options));
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

  async copyTransaction(before: string, table: string, columns: readonly string[], data: string | Buffer, after: string): Promise<void> {
    const { client, done } = await this.checkout();
    let broken: Error | undefined;
    try {
      await client.query(new OneTrip(`BEGIN; ${before}; COPY ${table} (${columns.join(', ')}) FROM STDIN; ${after}; COMMIT`, data));
    } catch (err) {
      if (err instanceof pg.DatabaseError) {
        // The server refused a statement: the rest was skipped, and the transaction, if still
        // open, is aborted. ROLLBACK ends it (a harmless warning when COMMIT itself failed).
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error;
        }
      } else {
        // The connection failed or timed out mid-way: its state is unknown, never reuse it.
        broken = err as Error;
      }
      throw err;
    } finally {
      done(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A protocol message's header: its type byte, then its length (itself included, body following). */
function header(type: number, bodyLength: number): Buffer {
  const m = Buffer.allocUnsafe(5);
  m[0] = type;
  m.writeInt32BE(4 + bodyLength, 1);
  return m;
}

/**
 * A pg submittable sending a simple Query holding a COPY FROM STDIN, the COPY's data and CopyDone
 * in one write, without waiting for the server's CopyInResponse. The server reads them in order;
 * when a statement before the COPY fails, it skips the rest of the Query and ignores the copy
 * messages that follow (the protocol says a frontend may still be sending them), so the whole
 * exchange is one round trip however it ends. Settles at ReadyForQuery, or at the first error:
 * pg hands a query nothing after an error (it then waits for ReadyForQuery before sending the
 * next query, so the caller's ROLLBACK follows it).
 */
class OneTrip {
  /** Set by the constructor; pg wraps it (query timeout), so every outcome goes through it. */
  callback: (err: Error | null) => void;
  readonly promise: Promise<void>;

  constructor(
    private readonly text: string,
    private readonly data: string | Buffer,
  ) {
    let settle!: (err: Error | null) => void;
    this.promise = new Promise<void>((resolve, reject) => {
      let settled = false;
      settle = (err) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
    });
    this.callback = settle;
  }

  /** Lets `await client.query(oneTrip)` wait for the outcome. */
  then<T1 = void, T2 = never>(onFulfilled?: ((v: void) => T1 | PromiseLike<T1>) | null, onRejected?: ((e: unknown) => T2 | PromiseLike<T2>) | null): Promise<T1 | T2> {
    return this.promise.then(onFulfilled, onRejected);
  }

  submit(connection: { stream: Writable }): void {
    const text = Buffer.from(this.text + '\0', 'utf8');
    const data = typeof this.data === 'string' ? Buffer.from(this.data, 'utf8') : this.data;
    // Corked: one writev of the parts, the data (megabytes for a large batch) not copied.
    const out = connection.stream;
    out.cork();
    out.write(Buffer.concat([header(0x51 /* Query */, text.length), text, header(0x64 /* CopyData */, data.length)]));
    out.write(data);
    out.write(header(0x63 /* CopyDone */, 0));
    out.uncork();
  }

  handleError(err: Error): void {
    this.callback(err);
  }

  handleReadyForQuery(): void {
    this.callback(null);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}
  handlePortalSuspended(): void {}
}
