/**
 * A local Web Push service (RFC 8030) for tests: it hands out subscriptions (a P-256 key pair and
 * an auth secret per subscription, as a browser would), checks each push's VAPID header (RFC 8292:
 * ES256 signature against the configured public key, aud, exp, sub), decrypts the aes128gcm
 * payload (RFC 8291) with the independent `http_ece` implementation, and records it. Answers can
 * be scripted (429, 5xx, 404/410, slow) and subscriptions removed (then 410).
 */
import { createECDH, createPublicKey, randomBytes, type ECDH } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { verifyJwt } from '../../../src/channels/push/jwt.js';

interface Ece {
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: string }): Buffer;
}
const ece = createRequire(import.meta.url)('http_ece') as Ece;

export interface PeerAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (a slow push service). */
  delayMs?: number;
}

export interface WebPushPeerRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The VAPID check: null when it passed, else why it failed. */
  vapidProblem: string | null;
  vapidClaims?: Record<string, unknown>;
  vapidHeader?: Record<string, unknown>;
  /** The decrypted payload (UTF-8), when it decrypted. */
  payload?: string;
  decryptError?: string;
  status: number;
}

export interface PeerSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export class WebPushPeer {
  readonly requests: WebPushPeerRequest[] = [];
  private readonly answers: PeerAnswer[] = [];
  private readonly subs = new Map<string, { ecdh: ECDH; auth: string }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';

  private constructor(
    private readonly server: http.Server,
    private readonly vapidPublicKey: string,
  ) {}

  static async start(opts: { vapidPublicKey: string }): Promise<WebPushPeer> {
    const server = http.createServer();
    const peer = new WebPushPeer(server, opts.vapidPublicKey);
    server.on('request', (req, res) => peer.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    peer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return peer;
  }

  /** A new subscription, as `PushSubscription.toJSON()` gives it. */
  subscribe(): PeerSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16).toString('base64url');
    const path = `/push/v2/${randomBytes(24).toString('base64url')}`;
    this.subs.set(path, { ecdh, auth });
    return { endpoint: this.url + path, keys: { p256dh: ecdh.getPublicKey('base64url'), auth } };
  }

  /** The browser unsubscribed: its endpoint now answers 410 Gone. */
  unsubscribe(sub: PeerSubscription): void {
    this.subs.delete(new URL(sub.endpoint).pathname);
  }

  /** Queue answers for the next requests that pass the VAPID check; then 201 again. */
  answer(...answers: PeerAnswer[]): void {
    this.answers.push(...answers);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    // 'close' is emitted when the handles' closing is requested; libuv finishes it one loop turn later.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const rec: WebPushPeerRequest = { path, headers: req.headers, vapidProblem: null, status: 0 };
      this.requests.push(rec);
      const reply = (a: PeerAnswer) => {
        rec.status = a.status;
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(a.status, a.headers ?? {});
          res.end(a.body ?? '');
        };
        if (a.delayMs) {
          const t = setTimeout(() => {
            this.timers.delete(t);
            send();
          }, a.delayMs);
          this.timers.add(t);
        } else send();
      };
      rec.vapidProblem = this.checkVapid(req.headers.authorization, rec);
      if (rec.vapidProblem) return reply({ status: rec.vapidProblem.startsWith('k ') ? 403 : 401, body: rec.vapidProblem });
      const sub = this.subs.get(path);
      if (!sub) return reply({ status: 410, body: 'push subscription has unsubscribed or expired' });
      if (req.headers['content-encoding'] !== 'aes128gcm') rec.decryptError = 'Content-Encoding is not aes128gcm';
      else {
        try {
          rec.payload = ece.decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth }).toString('utf8');
        } catch (e) {
          rec.decryptError = (e as Error).message;
        }
      }
      if (rec.decryptError) return reply({ status: 400, body: 'payload does not decrypt' });
      reply(this.answers.shift() ?? { status: 201, headers: { Location: `${this.url}/message/${randomBytes(8).toString('hex')}` } });
    });
  }

  /** RFC 8292 §2-3: `vapid t=<jwt>, k=<key>`; ES256 over the key in k; aud, exp (≤ 24 h), sub. */
  private checkVapid(authorization: string | undefined, rec: WebPushPeerRequest): string | null {
    const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
    if (!m) return 'Authorization is not "vapid t=…, k=…"';
    const [, token, k] = m;
    if (k !== this.vapidPublicKey) return 'k does not match the application server key';
    const raw = Buffer.from(k, 'base64url');
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') },
      format: 'jwk',
    });
    let jwt;
    try {
      jwt = verifyJwt(token, key);
    } catch {
      return 't is not a JWT';
    }
    rec.vapidClaims = jwt.claims;
    rec.vapidHeader = jwt.header;
    if (jwt.header.alg !== 'ES256' || !jwt.valid) return 'the JWT signature does not verify (ES256)';
    if (jwt.claims.aud !== this.url) return 'aud is not the push service origin';
    const now = Date.now() / 1000;
    const exp = Number(jwt.claims.exp);
    if (!(exp > now) || exp > now + 24 * 3600) return 'exp is not within the next 24 hours';
    if (typeof jwt.claims.sub !== 'string' || !/^(mailto:|https:)/.test(jwt.claims.sub)) return 'sub is not mailto: or https:';
    return null;
  }
}
