/**
 * The WebSocket stream (`/v1/stream`): one connection per tab, authenticated by its first message
 * (`{"type":"auth","token":…}`, never in the URL), subscribed to the topics pages ask for, and
 * reconnected with backoff while anything listens. Pages that need data fall back to polling
 * while the stream is not open, so the dashboard works (more slowly) without it.
 */
import { useEffect, useState } from 'react';
import { getToken } from './api';

export type StreamState = 'off' | 'connecting' | 'open' | 'closed';

/** A message from the server; `type` says what it carries (event, notification, intervention…). */
export interface StreamMessage {
  type: string;
  [k: string]: unknown;
}

type Listener = (msg: StreamMessage) => void;

/** What the server can filter a subscription on: each field a list of accepted values. */
export interface EventFilter {
  event_type?: string[];
  level?: string[];
  task_id?: string[];
  agent_name?: string[];
}

const MAX_BACKOFF_MS = 30_000;

class Stream {
  private ws: WebSocket | null = null;
  private listeners = new Set<Listener>();
  private stateListeners = new Set<(s: StreamState) => void>();
  private topics = new Map<string, number>();
  private backoff = 1000;
  private timer: ReturnType<typeof setTimeout> | null = null;
  state: StreamState = 'off';

  private setState(s: StreamState): void {
    this.state = s;
    for (const l of this.stateListeners) l(s);
  }

  onState(l: (s: StreamState) => void): () => void {
    this.stateListeners.add(l);
    return () => this.stateListeners.delete(l);
  }

  /** Listens to every message; subscribes to `topics` while listening. */
  listen(topics: readonly string[], l: Listener): () => void {
    this.listeners.add(l);
    for (const t of topics) {
      const n = this.topics.get(t) ?? 0;
      this.topics.set(t, n + 1);
      if (n === 0) this.sendSubscribe([t]);
    }
    this.ensure();
    return () => {
      this.listeners.delete(l);
      for (const t of topics) {
        const n = (this.topics.get(t) ?? 1) - 1;
        if (n <= 0) {
          this.topics.delete(t);
          if (t === 'events') this.send({ type: 'subscribe', events: false });
        } else this.topics.set(t, n);
      }
      if (this.listeners.size === 0) this.stop();
    };
  }

  private send(msg: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN && this.state === 'open') this.ws.send(JSON.stringify(msg));
  }

  /**
   * Interventions and a user's notifications come without asking; audit events only after
   * `{"type":"subscribe","events":true}` (filters are applied here, the server's are coarser).
   */
  private sendSubscribe(topics: string[]): void {
    if (topics.includes('events')) this.send({ type: 'subscribe', events: true, ...this.eventFilter });
  }

  /** Server-side narrowing of the events subscription (the server's filter fields, lists of values). */
  private eventFilter: EventFilter = {};

  setEventFilter(f: EventFilter): void {
    this.eventFilter = f;
    if (this.topics.has('events')) this.sendSubscribe(['events']);
  }

  private ensure(): void {
    if (this.ws !== null || this.timer !== null) return;
    const token = getToken();
    if (!token) return;
    const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/v1/stream`;
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
    ws.onmessage = (e) => {
      let msg: StreamMessage;
      try {
        msg = JSON.parse(String(e.data)) as StreamMessage;
      } catch {
        return;
      }
      if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') return;
      if (this.state !== 'open' && msg.type === 'welcome') {
        this.backoff = 1000;
        this.setState('open');
        this.sendSubscribe([...this.topics.keys()]);
      }
      for (const l of this.listeners) l(msg);
    };
    ws.onclose = () => {
      this.ws = null;
      if (this.listeners.size > 0) this.retry();
      else this.setState('off');
    };
    ws.onerror = () => ws.close();
  }

  private retry(): void {
    this.setState('closed');
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ensure();
    }, this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.setState('off');
  }
}

export const stream = new Stream();

/** Calls `onMessage` for each stream message while mounted; answers the connection state. */
export function useStream(topics: readonly string[], onMessage: Listener, enabled = true): StreamState {
  const [state, setState] = useState<StreamState>(stream.state);
  const key = topics.join(',');
  const onMessageRef = useRefLatest(onMessage);
  useEffect(() => {
    if (!enabled) return;
    const offState = stream.onState(setState);
    const off = stream.listen(key === '' ? [] : key.split(','), (m) => onMessageRef.current(m));
    setState(stream.state);
    return () => {
      off();
      offState();
    };
  }, [key, enabled, onMessageRef]);
  return enabled ? state : 'off';
}

function useRefLatest<T>(value: T): { current: T } {
  const [ref] = useState(() => ({ current: value }));
  ref.current = value;
  return ref;
}

/** The connection state, for an indicator. */
export function useStreamState(): StreamState {
  const [state, setState] = useState<StreamState>(stream.state);
  useEffect(() => {
    setState(stream.state);
    return stream.onState(setState);
  }, []);
  return state;
}
