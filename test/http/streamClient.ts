/** A real WebSocket client (package ws) for the stream tests: collects every message it is sent. */
import { WebSocket } from 'ws';
import type { Notification } from '../../src/channels/channel.js';
import { uuidv7 } from '../../src/events/uuid7.js';

export interface Msg {
  type: string;
  data?: Record<string, unknown>;
  [k: string]: unknown;
}

export class StreamClient {
  readonly messages: Msg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly label: string,
  ) {
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as Msg;
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** Opens a stream; `header` sends the token in Authorization, else it is the first message. */
  static async open(base: string, label: string, token: string | null, opts: { header?: boolean; autoPong?: boolean } = {}): Promise<StreamClient> {
    const url = base.replace(/^http/, 'ws') + '/v1/stream';
    const ws = new WebSocket(url, { headers: opts.header && token ? { authorization: `Bearer ${token}` } : {}, autoPong: opts.autoPong ?? true });
    const c = new StreamClient(ws, label);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
    if (!opts.header && token !== null) ws.send(JSON.stringify({ type: 'auth', token }));
    return c;
  }

  next(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.label}: no matching message in ${timeoutMs} ms; got ${JSON.stringify(this.messages.map((m) => m.type))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  welcome(): Promise<Msg> {
    return this.next((m) => m.type === 'welcome');
  }

  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }

  /** Everything sent before now has arrived: the server answers pings in order. */
  async sync(): Promise<void> {
    const before = this.messages.filter((m) => m.type === 'pong').length;
    this.send({ type: 'ping' });
    await this.next(() => this.messages.filter((m) => m.type === 'pong').length > before);
  }

  /** The messages that are not protocol chatter. */
  payload(): Msg[] {
    return this.messages.filter((m) => !['welcome', 'pong', 'subscribed'].includes(m.type));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

export function notification(extra: Partial<Notification> = {}): Notification {
  const id = uuidv7();
  return {
    delivery_id: uuidv7(),
    intervention_id: id,
    task_id: 'task_42',
    level: 'URGENT',
    title: 'Intervention Required for Task task_42',
    message: 'ERROR_THRESHOLD: 3 errors',
    reasons: ['ERROR_THRESHOLD'],
    context: { error_count: 3 },
    timestamp: new Date().toISOString(),
    action_url: `/interventions/${id}`,
    ...extra,
  };
}
