/**
 * Rate-limit counts shared by every server on one PostgreSQL, as a store of @fastify/rate-limit:
 * a key gets its limit across all servers, not once per server.
 *
 * Counting stays off the request path: the first request of a key in a window asks PostgreSQL
 * (adding itself, learning the total), later ones are counted in memory and added every `syncMs`
 * (one statement for every key), each sync bringing back the totals. Between two syncs a server
 * counts only its own requests, so all servers together may let through up to one sync interval's
 * worth of requests more than the limit. While PostgreSQL cannot be reached, each server counts
 * alone (as with one server) and adds its counts when it can again.
 */
import type { Logger } from 'pino';
import type { Queryable } from '../../store/store.js';

/** How often each server adds its counts and reads the totals, in ms. */
export const RATE_SYNC_MS = 1_000;

interface Count {
  window: number;
  /** The total across servers when last read (this server's synced requests included). */
  total: number;
  /** Requests counted here and not yet added. */
  unsynced: number;
  /** The first request's round trip, while it runs. */
  first: Promise<void> | null;
}

type Callback = (err: Error | null, res: { current: number; ttl: number }) => void;

const ADD = `INSERT INTO rate_limit_counts (key_id, window_start, count)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
             ON CONFLICT (key_id, window_start) DO UPDATE SET count = rate_limit_counts.count + EXCLUDED.count
             RETURNING key_id, window_start, count`;

export class SharedRateCounts {
  private readonly counts = new Map<string, Count>();
  private readonly timer: NodeJS.Timeout;
  private syncing: Promise<void> | null = null;
  private lastError = '';
  private lastPrune = 0;
  private timeWindow = 60_000;

  constructor(
    private readonly db: Queryable,
    private readonly log: Logger,
    syncMs: number = RATE_SYNC_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.sync(), syncMs);
    this.timer.unref();
  }

  /** The plugin makes its store with `new`, and one per route with `child()`: all share these counts. */
  child(): SharedRateCounts {
    return this;
  }

  incr(key: string, cb: Callback, timeWindow: number): void {
    this.timeWindow = timeWindow;
    const now = this.now();
    const window = Math.floor(now / timeWindow);
    const ttl = (window + 1) * timeWindow - now;
    let c = this.counts.get(key);
    if (c === undefined || c.window !== window) {
      const fresh: Count = { window, total: 0, unsynced: 1, first: null };
      c = fresh;
      this.counts.set(key, c);
      fresh.first = this.add([[key, fresh, 1]]).finally(() => {
        fresh.first = null;
      });
    } else c.unsynced++;
    const count = c;
    if (count.first === null) cb(null, { current: count.total + count.unsynced, ttl });
    else void count.first.then(() => cb(null, { current: count.total + count.unsynced, ttl }));
  }

  /** Adds every count not yet added; resolves when done (failures are logged, counts kept). */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
      const window = Math.floor(this.now() / this.timeWindow);
      for (const [key, c] of this.counts) if (c.window < window - 1 || (c.window < window && c.unsynced === 0 && c.first === null)) this.counts.delete(key);
      const due = [...this.counts].filter(([, c]) => c.unsynced > 0 && c.first === null).map(([key, c]) => [key, c, c.unsynced] as [string, Count, number]);
      if (due.length > 0) await this.add(due);
      if (this.now() - this.lastPrune >= this.timeWindow) {
        this.lastPrune = this.now();
        await this.db.query('DELETE FROM rate_limit_counts WHERE window_start < $1', [window - 1]).catch(() => undefined);
      }
    })().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  /** Stops syncing after adding what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.syncing;
    await this.sync();
  }

  /** Adds `n` to each key's count in its window; the totals come back. On failure the counts stay unsynced. */
  private async add(items: [string, Count, number][]): Promise<void> {
    try {
      const { rows } = await this.db.query<{ key_id: string; window_start: string | number; count: string | number }>(ADD, [
        items.map(([key]) => key),
        items.map(([, c]) => c.window),
        items.map(([, , n]) => n),
      ]);
      const totals = new Map(rows.map((r) => [`${r.key_id} ${r.window_start}`, Number(r.count)]));
      for (const [key, c, n] of items) {
        const total = totals.get(`${key} ${c.window}`);
        if (total === undefined) continue;
        c.unsynced -= n;
        c.total = total;
      }
      this.lastError = '';
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== this.lastError) this.log.warn({ err: { message: msg } }, 'sharing rate-limit counts failed; counting in this server alone until it works again');
      this.lastError = msg;
    }
  }
}
