/**
 * The live stream's hub: the authenticated WebSocket clients of this process and what they may
 * see (see messages.ts). `publish` delivers a bus message to the local clients at once and, on
 * PostgreSQL, to the clients of every other process through the relay. Events go to the
 * subscribed `read` clients: with a store, as the trail follower reads them (every writer's rows,
 * see follower.ts), woken by this process's commits (`publishEvents`); without one, as this
 * process commits them.
 *
 * Every client has a bounded send queue (the socket's buffered bytes): a client that cannot keep
 * up is closed with 4008 rather than letting the server's memory grow. Heartbeats: a ping every
 * `heartbeatMs`; a client that has not answered the previous one is terminated.
 */
import pino, { type Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { EventRow } from '../../events/types.js';
import type { Store } from '../../store/store.js';
import { hasScope } from '../apiKeys.js';
import { eventFrame, frameOf, matchesFilter, mayReceive, type BusMessage, type EventFilter, type StreamIdentity } from './messages.js';
import { TrailFollower, type TrailFollowerOptions } from './follower.js';
import { relayFor, type Relay } from './relay.js';

/** Defaults, with units. */
export const DEFAULT_HEARTBEAT_MS = 30_000;
/** Bytes a client may have waiting to be sent before it is dropped as too slow. */
export const DEFAULT_MAX_QUEUE_BYTES = 4 * 1024 * 1024;
/** How long a client has to send its `{"type":"auth"}` message. */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;
/** How often an open stream's key or token is checked again (a revoked one ends its streams). */
export const DEFAULT_RECHECK_MS = 10_000;

/** Close codes the stream uses (4000–4999 are the application's). */
export const CLOSE = {
  goingAway: 1001,
  badMessage: 4400,
  unauthenticated: 4401,
  forbidden: 4403,
  authTimeout: 4408,
  tooSlow: 4008,
} as const;

export interface StreamHubOptions {
  /** The store: on PostgreSQL, messages are relayed between processes. Omit for one process only. */
  store?: Store;
  log?: Logger;
  heartbeatMs?: number;
  maxQueueBytes?: number;
  authTimeoutMs?: number;
  recheckMs?: number;
  /** Overrides the relay (default: relayFor(store)). */
  relay?: Relay | null;
  /** The trail follower's timings (with a store); `false`: events only as this process commits them. */
  follow?: Pick<TrailFollowerOptions, 'pollMs' | 'minGapMs' | 'gapTimeoutMs' | 'batchRows'> | false;
}

export interface StreamClient {
  readonly id: number;
  readonly identity: StreamIdentity;
  /** Null until the client subscribes to events. */
  events: EventFilter | null;
}

interface Client extends StreamClient {
  socket: WebSocket;
  alive: boolean;
}

export type BusListener = (msg: BusMessage) => void;

export class StreamHub {
  private readonly clients = new Map<number, Client>();
  private readonly listeners = new Set<BusListener>();
  private readonly log: Logger;
  private readonly relay: Relay | null;
  /** Reads every writer's events from the trail while some client is subscribed to them. */
  readonly follower: TrailFollower | null;
  private readonly heartbeatMs: number;
  readonly maxQueueBytes: number;
  readonly authTimeoutMs: number;
  readonly recheckMs: number;
  private heartbeat: NodeJS.Timeout | null = null;
  private nextId = 1;
  private started: Promise<void> | null = null;
  private closed = false;
  /** Clients dropped for being too slow (for metrics and tests). */
  dropped = 0;

  constructor(opts: StreamHubOptions = {}) {
    this.log = (opts.log ?? pino({ level: 'silent' })).child({ component: 'stream' });
    this.relay = opts.relay !== undefined ? opts.relay : opts.store ? relayFor(opts.store, this.log) : null;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.maxQueueBytes = opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.authTimeoutMs = opts.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
    this.recheckMs = opts.recheckMs ?? DEFAULT_RECHECK_MS;
    this.follower =
      opts.store && opts.follow !== false ? new TrailFollower({ db: opts.store, log: this.log, deliver: (rows) => this.deliverEvents(rows), ...(opts.follow ?? {}) }) : null;
  }

  /** Starts the heartbeat and the relay's listener. Idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
      this.heartbeat.unref();
      await this.relay?.start((msg) => this.deliver(msg));
    })();
    return this.started;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Adds an authenticated socket; it leaves when it closes. */
  attach(socket: WebSocket, identity: StreamIdentity): StreamClient {
    const client: Client = { id: this.nextId++, identity, events: null, socket, alive: true };
    if (this.closed) {
      socket.close(CLOSE.goingAway, 'server shutting down');
      return client;
    }
    this.clients.set(client.id, client);
    socket.on('pong', () => {
      client.alive = true;
    });
    socket.on('close', () => this.remove(client.id));
    return client;
  }

  /**
   * Subscribes a client to events (only `read` keys may), or unsubscribes it (`null`); answers a
   * refusal or null. Resolves once every event committed from then on will reach the client.
   */
  async subscribeEvents(c: StreamClient, filter: EventFilter | null): Promise<string | null> {
    if (filter !== null && (c.identity.userId !== null || !hasScope(c.identity.principal.scopes, 'read'))) {
      return 'events are only streamed to API keys with the "read" scope';
    }
    c.events = filter;
    if (this.follower === null) return null;
    if (filter === null) {
      this.followIfWanted();
      return null;
    }
    try {
      await this.follower.start();
      return null;
    } catch (err) {
      c.events = null;
      return `events cannot be streamed now: reading the trail failed (${(err as Error).message}); subscribe again later`;
    }
  }

  /** Removes a client; the follower stops when no client wants events. */
  private remove(id: number): void {
    if (this.clients.delete(id)) this.followIfWanted();
  }

  private followIfWanted(): void {
    if (this.follower?.active && ![...this.clients.values()].some((c) => c.events !== null)) void this.follower.stop();
  }

  /** Sends one frame to one client, dropping it if its queue is full. */
  send(c: StreamClient, frame: string): void {
    const client = this.clients.get(c.id);
    if (!client) return;
    const s = client.socket;
    if (s.readyState !== s.OPEN) return;
    // The backlog is bounded, not the frame: a large message to an idle client still goes.
    if (s.bufferedAmount > this.maxQueueBytes) {
      this.dropped++;
      this.remove(client.id);
      this.log.warn({ client: client.id, principal: client.identity.principal.name, buffered: s.bufferedAmount }, 'stream client too slow; dropped');
      s.close(CLOSE.tooSlow, 'too slow: the send queue is full');
      // The close frame waits behind the queue; do not wait for a client that is not reading.
      setTimeout(() => s.terminate(), 1000).unref();
      return;
    }
    s.send(frame);
  }

  /** Delivers to this process's clients, then relays to the other processes. */
  async publish(msg: BusMessage): Promise<void> {
    this.deliver(msg);
    await this.relay?.publish(msg);
  }

  /**
   * Calls `fn` when another process (or this one) queued deliveries on the same PostgreSQL; never
   * on the embedded store (one process: its recorder wakes its worker itself).
   */
  onOutboxDue(fn: () => void): void {
    this.relay?.onOutboxDue(fn);
  }

  /** Listens to every bus message (local and relayed); answers the unsubscribe function. */
  onMessage(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * This process committed audit rows: with a follower, it reads them (and every other writer's)
   * now; without one, they go to the subscribed clients as they are.
   */
  publishEvents(rows: readonly EventRow[]): void {
    if (this.follower !== null) this.follower.wake();
    else this.deliverEvents(rows);
  }

  /** Audit rows → the clients subscribed to events whose filter matches. */
  private deliverEvents(rows: readonly EventRow[]): void {
    if (this.clients.size === 0) return;
    const subscribers = [...this.clients.values()].filter((c) => c.events !== null);
    if (subscribers.length === 0) return;
    for (const row of rows) {
      let frame: string | null = null;
      for (const c of subscribers) {
        if (!matchesFilter(c.events!, row)) continue;
        frame ??= eventFrame(row);
        this.send(c, frame);
      }
    }
  }

  /** Closes every socket (1001), stops the heartbeat and the relay. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.follower?.stop();
    await this.started?.catch(() => undefined);
    for (const c of this.clients.values()) {
      c.socket.close(CLOSE.goingAway, 'server shutting down');
      setTimeout(() => c.socket.terminate(), 1000).unref();
    }
    this.clients.clear();
    await this.relay?.close();
  }

  private deliver(msg: BusMessage): void {
    for (const l of this.listeners) {
      try {
        l(msg);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'stream listener failed');
      }
    }
    const frame = frameOf(msg);
    if (frame === null) return;
    for (const c of this.clients.values()) if (mayReceive(c.identity, msg)) this.send(c, frame);
  }

  private beat(): void {
    for (const c of this.clients.values()) {
      if (!c.alive) {
        this.log.info({ client: c.id }, 'stream client missed a heartbeat; terminated');
        this.remove(c.id);
        c.socket.terminate();
        continue;
      }
      c.alive = false;
      c.socket.ping();
    }
  }
}
