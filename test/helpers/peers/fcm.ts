/**
 * A local FCM HTTP v1 peer for tests: an OAuth token endpoint that verifies the service account's
 * RS256 assertion (signature with the account's public key, iss, aud, scope, iat/exp) and issues
 * access tokens with an expiry; and `POST /v1/projects/{id}/messages:send`, which checks the bearer
 * token and the message. Answers can be scripted (429, 5xx, UNREGISTERED, INVALID_ARGUMENT, slow),
 * tokens unregistered or access tokens revoked (then 401).
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyJwt } from '../../../src/channels/push/jwt.js';
import type { ServiceAccount } from '../../../src/channels/push/fcm.js';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

export interface PeerAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string | Record<string, unknown>;
  delayMs?: number;
}

export interface TokenRequest {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  problem: string | null;
  status: number;
}

export interface SendRequest {
  path: string;
  authorization: string | undefined;
  body: { message?: Record<string, unknown> } | null;
  status: number;
}

/** An FCM error body, as the v1 API writes it. */
export function fcmErrorBody(code: number, status: string, errorCode: string | null, message: string): Record<string, unknown> {
  const details = errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [];
  return { error: { code, message, status, details } };
}

export class FcmPeer {
  readonly tokenRequests: TokenRequest[] = [];
  readonly sends: SendRequest[] = [];
  readonly serviceAccount: ServiceAccount & { type: string };
  /** Seconds an issued access token lives (`expires_in`). */
  tokenLifetimeS = 3599;
  private readonly answers: PeerAnswer[] = [];
  private readonly tokenAnswers: PeerAnswer[] = [];
  private readonly issued = new Map<string, number>();
  private readonly dead = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly publicKey: KeyObject;
  url = '';

  private constructor(
    private readonly server: http.Server,
    private readonly now: () => number,
  ) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.publicKey = publicKey;
    this.serviceAccount = {
      type: 'service_account',
      project_id: 'vigil-test',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: 'vigil-push@vigil-test.iam.gserviceaccount.com',
      token_uri: '',
    };
  }

  /** `now` is the peer's clock (ms), shared with the channel's ManualClock in expiry tests. */
  static async start(opts: { now?: () => number } = {}): Promise<FcmPeer> {
    const server = http.createServer();
    const peer = new FcmPeer(server, opts.now ?? Date.now);
    server.on('request', (req, res) => peer.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    peer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    peer.serviceAccount.token_uri = `${peer.url}/token`;
    return peer;
  }

  /** Queue answers for the next messages:send requests that pass the auth check. */
  answer(...answers: PeerAnswer[]): void {
    this.answers.push(...answers);
  }

  /** Queue answers for the next token requests. */
  answerToken(...answers: PeerAnswer[]): void {
    this.tokenAnswers.push(...answers);
  }

  /** The app was uninstalled: sends to this registration token get 404 UNREGISTERED. */
  unregister(token: string): void {
    this.dead.add(token);
  }

  /** Every access token issued so far is refused from now on (401). */
  revokeAccessTokens(): void {
    this.issued.clear();
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

  private reply(res: http.ServerResponse, a: PeerAnswer): void {
    const send = () => {
      if (res.destroyed) return;
      const body = typeof a.body === 'string' ? a.body : JSON.stringify(a.body ?? {});
      res.writeHead(a.status, { 'Content-Type': 'application/json; charset=UTF-8', ...(a.headers ?? {}) });
      res.end(body);
    };
    if (!a.delayMs) return send();
    const t = setTimeout(() => {
      this.timers.delete(t);
      send();
    }, a.delayMs);
    this.timers.add(t);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.method === 'POST' && req.url === '/token') return this.token(text, res);
      const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '');
      if (req.method === 'POST' && m) return this.send(m[1], req, text, res);
      this.reply(res, { status: 404, body: fcmErrorBody(404, 'NOT_FOUND', null, 'no such method') });
    });
  }

  private token(text: string, res: http.ServerResponse): void {
    const rec: TokenRequest = { problem: null, status: 0 };
    this.tokenRequests.push(rec);
    const form = new URLSearchParams(text);
    rec.problem = this.checkAssertion(form, rec);
    if (rec.problem) {
      rec.status = 400;
      return this.reply(res, { status: 400, body: { error: 'invalid_grant', error_description: rec.problem } });
    }
    const scripted = this.tokenAnswers.shift();
    if (scripted) {
      rec.status = scripted.status;
      return this.reply(res, scripted);
    }
    const token = `ya29.peer-${randomBytes(24).toString('base64url')}`;
    this.issued.set(token, this.now() + this.tokenLifetimeS * 1000);
    rec.status = 200;
    this.reply(res, { status: 200, body: { access_token: token, expires_in: this.tokenLifetimeS, token_type: 'Bearer' } });
  }

  private checkAssertion(form: URLSearchParams, rec: TokenRequest): string | null {
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return 'grant_type is not jwt-bearer';
    let jwt;
    try {
      jwt = verifyJwt(form.get('assertion') ?? '', this.publicKey);
    } catch {
      return 'assertion is not a JWT';
    }
    rec.claims = jwt.claims;
    rec.header = jwt.header;
    const c = jwt.claims;
    if (jwt.header.alg !== 'RS256' || !jwt.valid) return 'invalid JWT signature';
    if (c.iss !== this.serviceAccount.client_email) return 'iss is not the service account';
    if (c.aud !== this.serviceAccount.token_uri) return 'aud is not the token endpoint';
    if (c.scope !== FCM_SCOPE) return 'scope is not firebase.messaging';
    const now = this.now() / 1000;
    const iat = Number(c.iat);
    const exp = Number(c.exp);
    if (!(iat <= now + 60) || !(exp > now) || exp - iat > 3600) return 'iat/exp out of range';
    return null;
  }

  private send(project: string, req: http.IncomingMessage, text: string, res: http.ServerResponse): void {
    const rec: SendRequest = { path: req.url ?? '', authorization: req.headers.authorization, body: null, status: 0 };
    this.sends.push(rec);
    const answer = (a: PeerAnswer) => {
      rec.status = a.status;
      this.reply(res, a);
    };
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expires = bearer ? this.issued.get(bearer) : undefined;
    if (expires === undefined || expires <= this.now()) {
      return answer({ status: 401, body: fcmErrorBody(401, 'UNAUTHENTICATED', null, 'Request had invalid authentication credentials.') });
    }
    if (project !== this.serviceAccount.project_id) {
      return answer({ status: 403, body: fcmErrorBody(403, 'PERMISSION_DENIED', null, 'wrong project') });
    }
    try {
      rec.body = JSON.parse(text) as SendRequest['body'];
    } catch {
      return answer({ status: 400, body: fcmErrorBody(400, 'INVALID_ARGUMENT', null, 'Invalid JSON payload received.') });
    }
    const token = rec.body?.message?.token;
    if (typeof token !== 'string' || token === '') {
      return answer({ status: 400, body: fcmErrorBody(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token') });
    }
    if (this.dead.has(token)) {
      return answer({ status: 404, body: fcmErrorBody(404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.') });
    }
    const scripted = this.answers.shift();
    if (scripted) return answer(scripted);
    answer({ status: 200, body: { name: `projects/${project}/messages/${randomBytes(8).toString('hex')}` } });
  }
}
