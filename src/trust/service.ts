/**
 * What `vigil serve` runs for the trail's integrity: signed checkpoints every
 * `trust.checkpoint_interval_ms` (appended to `trust.checkpoint_export_file` when set), retention
 * on its schedule when `retention.older_than` is set, and the partitions of the coming month made
 * ahead of time. The CLI and the HTTP routes call the same methods.
 */
import type { Logger } from 'pino';
import type { VigilConfig } from '../config/config.js';
import type { Store } from '../store/store.js';
import { appendCheckpoints, createCheckpoint, defaultKeyPath, listCheckpoints, loadSigningKey, type Checkpoint, type SigningKey } from './checkpoints.js';
import { applyRetention, parseAge, type RetentionResult } from './retention.js';
import { verifyChain, type VerifyOptions, type VerifyReport } from './verify.js';

export class TrustService {
  private signingKey: SigningKey | null = null;
  private timers: NodeJS.Timeout[] = [];
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly cfg: Pick<VigilConfig, 'trust' | 'retention' | 'store'>,
    private readonly log?: Logger,
  ) {}

  get keyPath(): string {
    return this.cfg.trust.checkpoint_key_file ?? defaultKeyPath(this.cfg.store.data_dir);
  }

  key(): SigningKey {
    this.signingKey ??= loadSigningKey(this.keyPath);
    return this.signingKey;
  }

  /** Signs the chain head (unless it has not moved and `force` is not set); appends it to the export file. */
  async checkpoint(force = false): Promise<Checkpoint | null> {
    const c = await createCheckpoint(this.store, this.key(), { force });
    if (c !== null && this.cfg.trust.checkpoint_export_file) appendCheckpoints(this.cfg.trust.checkpoint_export_file, [c]);
    return c;
  }

  list(): Promise<Checkpoint[]> {
    return listCheckpoints(this.store);
  }

  async retention(olderThan: string, dryRun = false): Promise<RetentionResult> {
    const r = await applyRetention(this.store, { olderThanMs: parseAge(olderThan), key: this.key(), dryRun });
    if (!dryRun && this.cfg.trust.checkpoint_export_file) appendCheckpoints(this.cfg.trust.checkpoint_export_file, r.anchors);
    return r;
  }

  verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyChain(this.store, opts);
  }

  /** Makes the partitions of this month and the next (PostgreSQL; a no-op on the embedded store). */
  async preparePartitions(now = new Date()): Promise<void> {
    const months = [0, 1].map((k) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1)).toISOString().slice(0, 10));
    // Not under the chain head: making a partition waits for readers of `logs`, which must not
    // wait for the head in turn.
    for (const m of months) await this.store.query('SELECT vigil_logs_ensure_partition($1::date)', [m]);
  }

  /** Starts the schedules of `vigil serve`. */
  start(): void {
    const every = (ms: number, what: string, fn: () => Promise<void>) => {
      if (ms <= 0) return;
      const t = setInterval(() => {
        if (this.busy) return;
        this.busy = true;
        fn()
          .catch((err: unknown) => this.log?.error({ err }, `${what} failed; it runs again in ${ms} ms`))
          .finally(() => (this.busy = false));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.cfg.trust.checkpoint_interval_ms, 'checkpoint', async () => {
      await this.preparePartitions();
      const c = await this.checkpoint();
      if (c !== null) this.log?.info({ chain_pos: c.chain_pos, key_id: c.key_id }, 'chain head signed');
    });
    const olderThan = this.cfg.retention.older_than;
    if (olderThan !== undefined) {
      every(this.cfg.retention.interval_ms, 'retention', async () => {
        const r = await this.retention(olderThan);
        if (r.rows_removed > 0) this.log?.warn({ rows_removed: r.rows_removed, removed_before: r.removed_before, partitions: r.partitions_dropped }, 'retention removed old events');
      });
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}
