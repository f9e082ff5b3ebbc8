/**
 * The outbox worker: claims due deliveries (FOR UPDATE SKIP LOCKED, so any number of workers on one
 * PostgreSQL never claim the same row), sends each through its channel, and records every attempt.
 * The channel says what happened (ok / retryable / permanent); the worker decides what follows:
 * sent, retried later with backoff (honouring Retry-After), dead — and a route's fallback channel
 * when dead. Sends run concurrently, capped overall and per channel, so a slow or hanging provider
 * never holds up the others.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { SendResult } from '../channels/channel.js';
import { uuidv7 } from '../events/uuid7.js';
import type { Store } from '../store/store.js';
import { systemClock, type Clock } from '../util/clock.js';
import { retryDelayMs } from './backoff.js';
import type { ChannelDirectory, NamedTarget } from './directory.js';
import { claimDue, completeAttempts, insertDeliveries, type ClaimedRow, type Completion, type NewDelivery } from './sql.js';

/** Defaults, with units. */
export const DEFAULT_CONCURRENCY = 64; // sends in flight per worker
export const DEFAULT_PER_CHANNEL_CONCURRENCY = 32; // sends in flight per channel per worker
export const DEFAULT_LEASE_MS = 5 * 60_000; // a claimed delivery is reclaimed after this if its worker died
export const DEFAULT_POLL_INTERVAL_MS = 200; // idle polling for due deliveries
export const DEFAULT_SEND_TIMEOUT_MS = 30_000; // hard cap on one send, whatever the channel's own timeout
export const DEFAULT_UNHEALTHY_AFTER = 5; // consecutive failed attempts before a channel is reported unhealthy
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/**
 * How long a finished attempt waits for the other sends in flight to finish too, so that they are
 * recorded in one statement (at once when no other send is in flight). A claimed batch's sends end
 * within a few ms of each other; written as each finished, the first went alone, its freed slot was
 * claimed again alone, and so on (bench/delivery.ts backlog: 860 writes, half of them of one
 * attempt; with the window 450, of 25 attempts on average, and a fifth fewer claims).
 */
const RECORD_WINDOW_MS = 5;

export interface OutboxWorkerOptions {
  store: Store;
  directory: ChannelDirectory;
  log: Logger;
  clock?: Clock;
  workerId?: string;
  concurrency?: number;
  perChannelConcurrency?: number;
  leaseMs?: number;
  pollIntervalMs?: number;
  sendTimeoutMs?: number;
  unhealthyAfter?: number;
  random?: () => number;
  /** A provider said the target is gone for good (deleted webhook, unregistered token). */
  onTargetGone?: (channel: string, target: NamedTarget) => void | Promise<void>;
  /** Every attempt, as it finishes (metrics): the channel's answer and what the delivery became. */
  onAttempt?: (channel: string, outcome: SendResult['outcome'], status: Completion['status'], durationMs: number) => void;
  /** A channel failed `unhealthyAfter` attempts in a row (reported once until it succeeds again). */
  onChannelUnhealthy?: (channel: string, detail: { consecutive_failures: number; last_error: string }) => void | Promise<void>;
}

/** A finished attempt waiting to be recorded. */
interface Pending {
  completion: Completion;
  row: ClaimedRow;
}

export interface ChannelCounters {
  ok: number;
  retryable: number;
  permanent: number;
  dead: number;
  send_ms_sum: number;
}

export class OutboxWorker {
  readonly id: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly perChannel: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly sendTimeoutMs: number;
  private readonly unhealthyAfter: number;
  private readonly random: () => number;

  private readonly inflight = new Set<Promise<void>>();
  private readonly inflightByChannel = new Map<string, number>();
  private readonly aborts = new Set<AbortController>();
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  /** Sends waiting for their channel's answer. */
  private sending = 0;
  /** The finished attempts gathering for one write: released when no send is left or at the window's end. */
  private gathering: { written: Promise<void>; release: () => void; timer: NodeJS.Timeout } | null = null;
  private running: Promise<void> | null = null;
  private closing = false;
  private wakeUp: (() => void) | null = null;
  /** When the retries this worker recorded fall due (ms), ascending; those passed at a claim are dropped. */
  private retriesDue: number[] = [];
  private lastError = '';
  private readonly failures = new Map<string, number>();
  readonly counters = new Map<string, ChannelCounters>();

  constructor(private readonly opts: OutboxWorkerOptions) {
    this.id = opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log.child({ component: 'outbox', worker: this.id });
    this.concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
    this.perChannel = opts.perChannelConcurrency ?? DEFAULT_PER_CHANNEL_CONCURRENCY;
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
    this.unhealthyAfter = opts.unhealthyAfter ?? DEFAULT_UNHEALTHY_AFTER;
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.closing = false;
    this.running = this.loop();
  }

  /** Look for due deliveries now rather than at the next poll. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /**
   * One pass for tests and `vigil notify test`: claims what is due, sends it, records the outcomes.
   * Returns how many deliveries were attempted.
   */
  async runOnce(): Promise<number> {
    const n = await this.claimAndLaunch();
    await Promise.all([...this.inflight]);
    await this.flush();
    return n;
  }

  /** Stops claiming, lets sends in flight finish (aborting them after `timeoutMs`), records them. */
  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.closing = true;
    this.wake();
    await this.running;
    this.running = null;
    const timer = setTimeout(() => this.aborts.forEach((a) => a.abort(new Error('the worker is shutting down'))), opts.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    await Promise.all([...this.inflight]);
    clearTimeout(timer);
    await this.flush();
  }

  private async loop(): Promise<void> {
    while (!this.closing) {
      let claimed = 0;
      let room = 0;
      let filled = false;
      try {
        room = this.concurrency - this.inflight.size;
        if (room > 0) ({ claimed, filled } = await this.claim());
        this.lastError = '';
      } catch (err) {
        const msg = (err as Error).message;
        if (msg !== this.lastError) this.log.warn({ err: { message: msg } }, 'claiming deliveries failed; retrying');
        this.lastError = msg;
      }
      if (this.closing) break;
      // A full claim, or one that filled a channel (the next one skips it and reaches the rows due
      // behind it), means more may be due: go again at once; otherwise wait for a wake or the poll.
      if (claimed > 0 && (claimed === room || filled)) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      // A retry this worker scheduled is looked for when due rather than at the next poll, so a
      // provider's Retry-After is waited for, not Retry-After plus up to a poll interval.
      const now = this.clock.now();
      const wait = Math.max(0, Math.min(this.pollMs, (this.retriesDue[0] ?? Infinity) - now));
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.wakeUp = null;
          resolve();
        }, wait);
        this.wakeUp = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  private async claimAndLaunch(): Promise<number> {
    return (await this.claim()).claimed;
  }

  /** Claims within the free slots and each channel's room, and launches; `filled`: a channel reached its cap. */
  private async claim(): Promise<{ claimed: number; filled: boolean }> {
    const room = this.concurrency - this.inflight.size;
    if (room <= 0) return { claimed: 0, filled: false };
    const skip = [...this.inflightByChannel].filter(([, n]) => n >= this.perChannel).map(([c]) => c);
    const channelRoom = new Map([...this.inflightByChannel].filter(([, n]) => n > 0 && n < this.perChannel).map(([c, n]) => [c, this.perChannel - n]));
    const nowMs = this.clock.now();
    const passed = this.retriesDue.findIndex((at) => at > nowMs);
    this.retriesDue.splice(0, passed === -1 ? this.retriesDue.length : passed);
    const rows = await claimDue(this.opts.store, {
      worker: this.id,
      limit: room,
      nowMs,
      leaseMs: this.leaseMs,
      skipChannels: skip,
      perChannel: this.perChannel,
      channelRoom,
    });
    for (const row of rows) this.launch(row);
    return { claimed: rows.length, filled: rows.some((r) => (this.inflightByChannel.get(r.channel) ?? 0) >= this.perChannel) };
  }

  private launch(row: ClaimedRow): void {
    this.inflightByChannel.set(row.channel, (this.inflightByChannel.get(row.channel) ?? 0) + 1);
    const p: Promise<void> = this.sendOne(row)
      .catch((err: Error) => this.log.error({ err: { message: err.message }, delivery: row.id }, 'delivery bookkeeping failed'))
      .finally(() => {
        this.inflight.delete(p);
        this.inflightByChannel.set(row.channel, (this.inflightByChannel.get(row.channel) ?? 1) - 1);
        // A slot freed: claim more without waiting for the poll.
        this.wake();
      });
    this.inflight.add(p);
  }

  private async sendOne(row: ClaimedRow): Promise<void> {
    const channel = this.opts.directory.channel(row.channel);
    const target = this.opts.directory.targets(row.channel).find((t) => t.name === row.target);
    const startedAt = this.clock.now();
    const t0 = performance.now();
    let result: SendResult;
    if (!channel || !target) {
      result = { outcome: 'permanent', status: null, error: `channel ${row.channel} target ${row.target} is no longer configured`, durationMs: 0 };
    } else {
      const abort = new AbortController();
      this.aborts.add(abort);
      this.sending++;
      const timer = setTimeout(() => abort.abort(new Error(`no answer within ${this.sendTimeoutMs} ms`)), this.sendTimeoutMs);
      try {
        result = await channel.send({ ...row.notification, delivery_id: row.id }, target, abort.signal);
      } catch (err) {
        // Channels return outcomes rather than throw; a throw is a bug: retry rather than lose the alert.
        result = { outcome: 'retryable', status: 'INTERNAL_ERROR', error: `the ${row.channel} channel failed: ${(err as Error).message}`, durationMs: performance.now() - t0 };
      } finally {
        clearTimeout(timer);
        this.aborts.delete(abort);
        this.sending--;
      }
    }
    const completion = this.decide(row, result, startedAt, performance.now() - t0);
    this.count(row.channel, result, completion);
    if (result.targetGone && target) await this.opts.onTargetGone?.(row.channel, target);
    this.pending.push({ completion, row });
    await this.recordSoon();
  }

  /** Resolves once the pending attempts are recorded: written with the others that finish within RECORD_WINDOW_MS. */
  private recordSoon(): Promise<void> {
    if (!this.gathering) {
      let release!: () => void;
      const written = new Promise<void>((resolve) => (release = resolve)).then(() => this.flush());
      this.gathering = { written, release, timer: setTimeout(() => this.gathered(), RECORD_WINDOW_MS) };
    }
    const { written } = this.gathering;
    if (this.sending === 0) this.gathered();
    return written;
  }

  private gathered(): void {
    const g = this.gathering;
    this.gathering = null;
    if (!g) return;
    clearTimeout(g.timer);
    g.release();
  }

  /** Keeps `at` among the retries' due times, in order. */
  private retryDue(at: number): void {
    const due = this.retriesDue;
    let lo = 0;
    let hi = due.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (due[mid] <= at) lo = mid + 1;
      else hi = mid;
    }
    due.splice(lo, 0, at);
  }

  private decide(row: ClaimedRow, result: SendResult, startedAt: number, durationMs: number): Completion {
    const base = {
      id: row.id,
      attempt: row.attempts,
      started_at: startedAt,
      duration_ms: durationMs,
      outcome: result.outcome,
      provider_status: result.status === null || result.status === undefined ? null : String(result.status),
      error: result.error ?? null,
    };
    const now = this.clock.now();
    if (result.outcome === 'ok') return { ...base, status: 'sent', next_attempt_at: now };
    if (result.outcome === 'permanent' || row.attempts >= row.max_attempts) return { ...base, status: 'dead', next_attempt_at: now };
    return { ...base, status: 'pending', next_attempt_at: now + retryDelayMs(row.attempts, result.retryAfterMs, this.random) };
  }

  private count(channel: string, result: SendResult, c: Completion): void {
    let k = this.counters.get(channel);
    if (!k) this.counters.set(channel, (k = { ok: 0, retryable: 0, permanent: 0, dead: 0, send_ms_sum: 0 }));
    k[result.outcome]++;
    if (c.status === 'dead') k.dead++;
    k.send_ms_sum += c.duration_ms;
    this.opts.onAttempt?.(channel, result.outcome, c.status, c.duration_ms);
    if (result.outcome === 'ok') {
      this.failures.delete(channel);
      return;
    }
    const n = (this.failures.get(channel) ?? 0) + 1;
    this.failures.set(channel, n);
    if (n === this.unhealthyAfter && this.unhealthyAfter > 0) {
      this.log.error({ channel, consecutive_failures: n, last_error: result.error }, 'channel keeps failing');
      void Promise.resolve(this.opts.onChannelUnhealthy?.(channel, { consecutive_failures: n, last_error: result.error ?? '' })).catch((err: Error) =>
        this.log.error({ err: { message: err.message } }, 'reporting an unhealthy channel failed'),
      );
    }
  }

  /**
   * Records finished attempts in batches: all completions gathered while the previous write ran go
   * in the next one. A failed write keeps them and tries again (the lease keeps others off the rows).
   */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.pending.length > 0 ? this.flush() : undefined));
    if (this.pending.length === 0) return Promise.resolve();
    this.flushing = (async () => {
      for (let attempt = 0; this.pending.length > 0; attempt++) {
        const batch = this.pending;
        this.pending = [];
        try {
          const updated = await this.record(batch);
          for (const b of batch) {
            if (b.completion.status === 'pending' && updated.has(b.row.id)) this.retryDue(b.completion.next_attempt_at);
            if (!updated.has(b.row.id)) this.log.warn({ delivery: b.row.id }, 'delivery lease was lost before its attempt was recorded');
            else if (b.completion.status === 'dead') this.log.warn({ delivery: b.row.id, channel: b.row.channel, error: b.completion.error }, 'delivery is dead');
          }
        } catch (err) {
          this.pending = batch.concat(this.pending);
          this.log.warn({ err: { message: (err as Error).message } }, 'recording delivery attempts failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /**
   * Writes one batch of outcomes; returns the ids whose lease was still this worker's. A batch with
   * a delivery that may fall back is one transaction, so the fallback row exists if and only if its
   * primary is dead; any other batch is one statement, without a transaction's extra round trips.
   */
  private async record(batch: readonly Pending[]): Promise<Set<string>> {
    const completions = batch.map((b) => b.completion);
    const mayFallBack = batch.filter((b) => b.completion.status === 'dead' && b.row.fallback_channel && !b.row.fallback_of);
    if (mayFallBack.length === 0) return completeAttempts(this.opts.store, this.id, completions, this.clock.now());
    return this.opts.store.transaction(async (tx) => {
      const updated = await completeAttempts(tx, this.id, completions, this.clock.now());
      const fallbacks = mayFallBack.filter((b) => updated.has(b.row.id));
      if (fallbacks.length > 0) await insertDeliveries(tx, fallbacks.flatMap((b) => this.fallbackRows(b.row)), this.clock.now());
      return updated;
    });
  }

  private fallbackRows(row: ClaimedRow): NewDelivery[] {
    const channel = row.fallback_channel!;
    const targets = this.opts.directory.targets(channel);
    const base = {
      intervention_id: row.intervention_id,
      channel,
      route: row.route,
      reason: row.reason,
      level: row.level,
      notification: row.notification,
      max_attempts: this.opts.directory.maxAttempts(channel),
      fallback_channel: null,
      fallback_of: row.id,
    };
    if (targets.length === 0) return [{ ...base, id: uuidv7(), target: '(none)', dead_error: `fallback channel ${channel} has no target configured` }];
    return targets.map((t) => ({ ...base, id: uuidv7(), target: t.name }));
  }
}
