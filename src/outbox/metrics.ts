/**
 * The outbox's Prometheus metrics, registered in the server's registry (src/http/metrics.ts):
 * attempts per channel and outcome, send latency per channel, deliveries that became dead, gone
 * targets, and the outbox depth by status — from one cheap query (the partial indexes of pending
 * and sending rows, the (status, seq) index of dead ones), refreshed every DEPTH_REFRESH_MS while
 * started and shown from that cache at scrape time. Sent rows are not counted (they only grow;
 * the attempts counter says how many were sent by this process).
 */
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from '../http/metrics.js';
import type { Queryable } from '../store/store.js';

/** How often the depth gauge is read from the database. */
export const DEPTH_REFRESH_MS = 5_000;
const SEND_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DEPTH_STATUSES = ['pending', 'sending', 'dead'] as const;

export async function outboxDepth(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM deliveries WHERE status IN ('pending', 'sending', 'dead') GROUP BY status`,
  );
  const out: Record<string, number> = { pending: 0, sending: 0, dead: 0 };
  for (const r of rows) out[r.status] = Number(r.n);
  return out;
}

/** A gauge with a `status` label, read from the cached depth. */
class DepthGauge {
  constructor(private readonly read: () => Record<string, number> | null) {}
  render(): string {
    const d = this.read();
    let out = '# HELP vigil_outbox_deliveries Deliveries in the outbox by status (pending, sending, dead), refreshed every few seconds.\n# TYPE vigil_outbox_deliveries gauge\n';
    if (d) for (const s of DEPTH_STATUSES) out += `vigil_outbox_deliveries{status="${s}"} ${d[s] ?? 0}\n`;
    return out;
  }
}

export class OutboxMetrics {
  readonly attempts: Counter;
  readonly sendSeconds: Histogram;
  readonly dead: Counter;
  readonly targetsGone: Counter;
  private depth: Record<string, number> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private lastError = '';

  constructor(
    registry: Registry,
    private readonly db: Queryable,
    private readonly log: Logger,
  ) {
    this.attempts = registry.register(new Counter('vigil_delivery_attempts_total', 'Delivery attempts made by this process, by channel and outcome (ok, retryable, permanent).'));
    this.sendSeconds = registry.register(new Histogram('vigil_delivery_send_duration_seconds', 'Time a channel took to send (the provider\'s answer included), by channel and outcome.', SEND_SECONDS));
    this.dead = registry.register(new Counter('vigil_deliveries_dead_total', 'Deliveries that became dead in this process (permanent failure or last attempt), by channel.'));
    this.targetsGone = registry.register(new Counter('vigil_delivery_targets_gone_total', 'Targets a provider said are gone for good, by channel and whether Vigil removed them.'));
    registry.register(new DepthGauge(() => this.depth));
  }

  /** The worker's onAttempt hook. */
  readonly onAttempt = (channel: string, outcome: string, status: string, durationMs: number): void => {
    this.attempts.inc({ channel, outcome });
    this.sendSeconds.observe(durationMs / 1000, { channel, outcome });
    if (status === 'dead') this.dead.inc({ channel });
  };

  /** Reads the depth now (tests, and the first scrape after start). */
  refresh(): Promise<void> {
    this.refreshing ??= outboxDepth(this.db)
      .then((d) => {
        this.depth = d;
        this.lastError = '';
      })
      .catch((err: Error) => {
        if (err.message !== this.lastError) this.log.warn({ err: { message: err.message } }, 'reading the outbox depth failed');
        this.lastError = err.message;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  start(intervalMs = DEPTH_REFRESH_MS): void {
    if (this.timer) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.refreshing;
  }
}
