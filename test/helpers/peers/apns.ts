/**
 * A local APNs peer for tests: HTTP/2 without TLS (h2c, `http://` base URL) serving
 * `POST /3/device/{token}`. It verifies the ES256 provider token (signature with the team's
 * public key, `kid`, `iss`, `iat` not older than an hour), records headers and payload, counts
 * HTTP/2 sessions (to prove reuse), and can be scripted (429, 5xx, 400 BadDeviceToken, slow) or
 * told that a device token is unregistered (410).
 */
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { verifyJwt } from '../../../src/channels/push/jwt.js';

export interface PeerAnswer {
  status: number;
  /** APNs error reason: `{reason}` body. */
  reason?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface ApnsRequest {
  deviceToken: string;
  headers: http2.IncomingHttpHeaders;
  jwtHeader?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  authorization?: string;
  payload: Record<string, unknown> | null;
  status: number;
  reason?: string;
}

export class ApnsPeer {
  readonly requests: ApnsRequest[] = [];
  readonly teamId = 'TEAM123456';
  readonly keyId = 'KEY1234567';
  readonly topic = 'com.example.vigil';
  /** The .p8 key (PKCS#8 PEM), as Apple's developer account hands it out. */
  readonly privateKey: string;
  /** HTTP/2 sessions the peer has accepted. */
  sessions = 0;
  private readonly publicKey: KeyObject;
  private readonly answers: PeerAnswer[] = [];
  private readonly dead = new Set<string>();
  private readonly open = new Set<http2.ServerHttp2Session>();
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';

  private constructor(
    private readonly server: http2.Http2Server,
    private readonly now: () => number,
  ) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.publicKey = publicKey;
    this.privateKey = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  static async start(opts: { now?: () => number } = {}): Promise<ApnsPeer> {
    const server = http2.createServer();
    const peer = new ApnsPeer(server, opts.now ?? Date.now);
    server.on('session', (s) => {
      peer.sessions++;
      peer.open.add(s);
      s.on('close', () => peer.open.delete(s));
    });
    server.on('stream', (stream, headers) => peer.handle(stream, headers));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    peer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return peer;
  }

  answer(...answers: PeerAnswer[]): void {
    this.answers.push(...answers);
  }

  /** The app was removed from the device: 410 Unregistered from now on. */
  unregister(deviceToken: string): void {
    this.dead.add(deviceToken);
  }

  /** A fresh hex device token. */
  static deviceToken(): string {
    return randomBytes(32).toString('hex');
  }

  /** Ends every open session with GOAWAY, as APNs does for idle or rotated connections. */
  async goAway(): Promise<void> {
    const closing = [...this.open].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const s of this.open) s.goaway();
    await Promise.all(closing);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    // 'close' is emitted when the handles' closing is requested; libuv finishes it one loop turn later.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }

  private handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('end', () => {
      const m = /^\/3\/device\/([^/]+)$/.exec(String(headers[':path']));
      const rec: ApnsRequest = {
        deviceToken: m?.[1] ?? '',
        headers,
        authorization: typeof headers.authorization === 'string' ? headers.authorization : undefined,
        payload: null,
        status: 0,
      };
      this.requests.push(rec);
      const reply = (a: PeerAnswer) => {
        rec.status = a.status;
        rec.reason = a.reason;
        const send = () => {
          if (stream.destroyed || stream.closed) return;
          const out: http2.OutgoingHttpHeaders = { ':status': a.status, 'apns-id': String(headers['apns-id'] ?? randomUUID()), ...(a.headers ?? {}) };
          if (a.reason) {
            out['content-type'] = 'application/json';
            stream.respond(out);
            stream.end(JSON.stringify(a.status === 410 ? { reason: a.reason, timestamp: this.now() } : { reason: a.reason }));
          } else {
            stream.respond(out, { endStream: true });
          }
        };
        if (!a.delayMs) return send();
        const t = setTimeout(() => {
          this.timers.delete(t);
          send();
        }, a.delayMs);
        this.timers.add(t);
      };
      if (headers[':method'] !== 'POST' || !m) return reply({ status: 405, reason: 'MethodNotAllowed' });
      const authProblem = this.checkToken(rec);
      if (authProblem) return reply({ status: 403, reason: authProblem });
      if (headers['apns-topic'] !== this.topic) return reply({ status: 400, reason: 'TopicDisallowed' });
      try {
        rec.payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return reply({ status: 400, reason: 'PayloadEmpty' });
      }
      if (!/^[0-9a-f]{64}$/i.test(rec.deviceToken)) return reply({ status: 400, reason: 'BadDeviceToken' });
      if (this.dead.has(rec.deviceToken)) return reply({ status: 410, reason: 'Unregistered' });
      reply(this.answers.shift() ?? { status: 200 });
    });
  }

  /** Token-based auth: `bearer <ES256 JWT>`, kid = key id, iss = team id, iat within the hour. */
  private checkToken(rec: ApnsRequest): string | null {
    const m = /^bearer (\S+)$/.exec(rec.authorization ?? '');
    if (!m) return 'MissingProviderToken';
    let jwt;
    try {
      jwt = verifyJwt(m[1], this.publicKey);
    } catch {
      return 'InvalidProviderToken';
    }
    rec.jwtHeader = jwt.header;
    rec.claims = jwt.claims;
    if (jwt.header.alg !== 'ES256' || !jwt.valid || jwt.header.kid !== this.keyId || jwt.claims.iss !== this.teamId) {
      return 'InvalidProviderToken';
    }
    const age = this.now() / 1000 - Number(jwt.claims.iat);
    if (!(age < 3600)) return 'ExpiredProviderToken';
    return null;
  }
}
