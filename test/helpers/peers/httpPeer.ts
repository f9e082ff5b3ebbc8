/**
 * A scriptable HTTP server on 127.0.0.1 (port 0) that the provider peers build on: it records
 * every request, answers the next scripted replies in order (a status, headers, a body, or a
 * hang that never answers) and otherwise calls the provider's default handler.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
}

/** Never answer (the client's timeout must end it). */
export const HANG = { hang: true } as const;

export type Scripted = Reply | typeof HANG | ((req: Received) => Reply | typeof HANG);

export interface PeerOptions {
  /**
   * Keep every request in `received` (default true). A benchmark sending tens of thousands keeps
   * only the count: kept, their bodies and headers were copied by every young-generation GC of the
   * process they share with the workers.
   */
  keepReceived?: boolean;
}

export class HttpPeer {
  readonly received: Received[] = [];
  /** Requests handled, kept or not. */
  requests = 0;
  private readonly queue: Scripted[] = [];
  private readonly hanging = new Set<http.ServerResponse>();
  private readonly sockets = new Set<Promise<void>>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    private readonly fallback: (req: Received) => Reply,
    private readonly keep: boolean,
  ) {}

  /** Starts a peer whose unscripted requests get `fallback`'s answer. */
  static async start(fallback: (req: Received) => Reply, opts: PeerOptions = {}): Promise<HttpPeer> {
    const box: { peer?: HttpPeer } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => box.peer!.handle({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const peer = new HttpPeer(server, `http://127.0.0.1:${port}`, fallback, opts.keepReceived ?? true);
    box.peer = peer;
    server.on('connection', (socket: Socket) => {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      peer.sockets.add(closed);
      void closed.then(() => peer.sockets.delete(closed));
    });
    return peer;
  }

  /** The next requests get these answers, in order. */
  script(...replies: Scripted[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Forgets what was received and scripted. */
  reset(): void {
    this.received.length = 0;
    this.requests = 0;
    this.queue.length = 0;
  }

  private handle(req: Received, res: http.ServerResponse): void {
    this.requests++;
    if (this.keep) this.received.push(req);
    const next = this.queue.shift();
    const reply = typeof next === 'function' ? next(req) : (next ?? this.fallback(req));
    if ('hang' in reply) {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    const isText = typeof reply.body === 'string' || reply.body === undefined;
    const body = reply.body === undefined ? '' : isText ? String(reply.body) : JSON.stringify(reply.body);
    const headers: Record<string, string> = { ...(isText ? {} : { 'content-type': 'application/json' }), ...reply.headers };
    res.writeHead(reply.status, headers).end(body);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    // Wait until every socket's handle is released, so no open-handle check sees it.
    await Promise.all([closed, ...this.sockets]);
    // The listening handle is released in the loop's close phase, after the 'close' event.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
