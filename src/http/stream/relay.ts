/**
 * Carries the hub's bus messages between processes on one PostgreSQL with LISTEN/NOTIFY, so a
 * notification sent by any worker reaches the stream clients of every `vigil serve`. One
 * dedicated connection listens (reconnecting with backoff when lost); publishing uses the pool.
 *
 * NOTIFY payloads are limited to 8000 bytes: a larger message travels with its free-form
 * `context` / `metadata` replaced by `{"truncated": true}` (the inbox row itself is complete).
 * Delivery between processes is best effort, like the stream itself; the inbox is the record.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { OUTBOX_CHANNEL } from '../../outbox/recorder.js';
import { PostgresStore } from '../../store/postgres.js';
import type { Store } from '../../store/store.js';
import type { BusMessage } from './messages.js';

export const RELAY_CHANNEL = 'vigil_stream';
/** PostgreSQL's limit is 8000 bytes; leave room for the envelope. */
export const MAX_NOTIFY_BYTES = 7900;
export const RELAY_RECONNECT_MIN_MS = 500;
export const RELAY_RECONNECT_MAX_MS = 30_000;

export interface Relay {
  start(onMessage: (msg: BusMessage) => void): Promise<void>;
  publish(msg: BusMessage): Promise<void>;
  /** Calls `fn` when any process queued deliveries, and after each (re)connection (one may have been missed). */
  onOutboxDue(fn: () => void): void;
  close(): Promise<void>;
}

/** A relay for this store: LISTEN/NOTIFY on PostgreSQL; null on the embedded store (one process). */
export function relayFor(store: Store, log: Logger): Relay | null {
  return store instanceof PostgresStore ? new PgRelay(store, log) : null;
}

/** A message small enough for NOTIFY: the free-form parts dropped when it is too large. */
export function fitPayload(envelope: { origin: string; msg: BusMessage }): string {
  const text = JSON.stringify(envelope);
  if (Buffer.byteLength(text) <= MAX_NOTIFY_BYTES) return text;
  const m = envelope.msg;
  const trimmed: BusMessage =
    m.kind === 'intervention'
      ? { ...m, data: { ...m.data, context: { truncated: true }, message: m.data.message.slice(0, 2000) } }
      : m.kind === 'notification'
        ? { ...m, data: { ...m.data, metadata: { truncated: true }, message: m.data.message.slice(0, 2000) } }
        : m;
  return JSON.stringify({ origin: envelope.origin, msg: trimmed });
}

export class PgRelay implements Relay {
  /** Messages this process published come back through LISTEN: they are recognised and skipped. */
  readonly origin = randomUUID();
  private client: pg.Client | null = null;
  private onMessage: ((msg: BusMessage) => void) | null = null;
  private readonly outboxDue = new Set<() => void>();
  private closed = false;
  private retryMs = RELAY_RECONNECT_MIN_MS;
  private timer: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;

  constructor(
    private readonly store: PostgresStore,
    private readonly log: Logger,
  ) {}

  async start(onMessage: (msg: BusMessage) => void): Promise<void> {
    this.onMessage = onMessage;
    await this.connect();
  }

  onOutboxDue(fn: () => void): void {
    this.outboxDue.add(fn);
  }

  async publish(msg: BusMessage): Promise<void> {
    await this.store.query('SELECT pg_notify($1, $2)', [RELAY_CHANNEL, fitPayload({ origin: this.origin, msg })]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.connecting?.catch(() => undefined);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting = this.doConnect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.store.url, application_name: 'vigil-stream' });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (n) => {
      if (n.channel === OUTBOX_CHANNEL) return this.outboxDue.forEach((fn) => fn());
      if (n.channel !== RELAY_CHANNEL || n.payload === undefined) return;
      try {
        const env = JSON.parse(n.payload) as { origin: string; msg: BusMessage };
        if (env.origin !== this.origin) this.onMessage?.(env.msg);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'unreadable stream relay message skipped');
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${RELAY_CHANNEL}; LISTEN ${OUTBOX_CHANNEL}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      if (this.closed) return;
      this.log.warn({ err: (err as Error).message, retry_ms: this.retryMs }, 'stream relay cannot listen; retrying');
      this.schedule();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = RELAY_RECONNECT_MIN_MS;
    this.outboxDue.forEach((fn) => fn());
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = null;
    this.log.warn({ err: err.message }, 'stream relay lost its connection; reconnecting');
    client.end().catch(() => undefined);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RELAY_RECONNECT_MAX_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closed) void this.connect();
    }, wait);
    this.timer.unref();
  }
}
