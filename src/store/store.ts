/** The one small interface both backends implement: the embedded PGlite and a PostgreSQL server. */

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** How a query runs. */
export interface QueryOptions {
  /**
   * Prepare the statement once per connection and run it by name from then on, so the server plans
   * it once rather than at every call: for the hot statements a process runs thousands of times
   * (the outbox's claim and record, ~0.8 ms of planning each). Backends without named statements
   * (the embedded one) run it as usual.
   */
  prepare?: boolean;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
  /** Runs a script of several statements (no parameters): migrations. */
  exec(sql: string): Promise<void>;
}

/** A transaction's connection: queries, and COPY inside the same transaction. */
export interface Tx extends Queryable {
  /** `COPY <table> (<columns>) FROM STDIN` in text format within this transaction. */
  copyIn(table: string, columns: readonly string[], data: string | Buffer): Promise<void>;
}

export type StoreKind = 'embedded' | 'postgres';

export interface Store extends Queryable {
  readonly kind: StoreKind;
  /** Where the data lives, safe to print (passwords masked). */
  readonly description: string;
  /** Runs `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * The backend's fastest bulk path: `COPY <table> (<columns>) FROM STDIN` in text format,
   * `data` being complete lines. Atomic: all rows or none.
   */
  copyIn(table: string, columns: readonly string[], data: string | Buffer): Promise<void>;
  /**
   * One transaction sent to the server in one write, answered in one round trip: `before`, then
   * `COPY <table> (<columns>) FROM STDIN` of `data`, then `after`, committed. `before` and `after`
   * are complete SQL without parameters (values inlined by the caller, from values it made). All or
   * nothing: the first error rolls everything back and rejects with the server's error. Only where
   * the backend can do it in one round trip (PostgreSQL); callers fall back to `transaction`.
   */
  copyTransaction?(before: string, table: string, columns: readonly string[], data: string | Buffer, after: string): Promise<void>;
  close(): Promise<void>;
}

/** An error the caller should surface as is: bad configuration, a held lock. */
export class StoreConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConfigError';
  }
}

/** SQLSTATE of a unique violation (a retried write meeting rows it already committed). */
export const UNIQUE_VIOLATION = '23505';

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `postgres://vigil:secret@db:5432/vigil` → `postgres://vigil:****@db:5432/vigil`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|token|key/i.test(k)) u.searchParams.set(k, '****');
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
