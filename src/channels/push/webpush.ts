/**
 * Web Push (RFC 8030) to a browser subscription: the payload encrypted with `aes128gcm`
 * (RFC 8291), the sender identified with VAPID (RFC 8292), headers TTL, Urgency and Topic.
 * The endpoint is whatever URL the browser's push service gave; nothing else goes to the network.
 */
import { createCipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';
import type { Clock } from '../../util/clock.js';
import { classifyStatus, HttpFailure, type HttpClient } from '../http.js';
import { maskUrl, redact } from './mask.js';
import { failureResult, type ProviderResult } from './results.js';
import { webPushUrgency, type PushMessage } from './payload.js';
import { VapidSigner, type VapidKeys } from './vapid.js';

/** RFC 8291 §4: one record; push services must accept 4096-byte bodies, leaving 3993 of plaintext. */
export const WEBPUSH_RECORD_SIZE = 4096;
export const WEBPUSH_MAX_PLAINTEXT = 3993;

/** What a browser's `PushSubscription.toJSON()` gives; stored as the target's address. */
export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface WebPushOptions {
  vapid: VapidKeys;
  /** RFC 8292 `sub`: `mailto:` or `https:` contact of the operator. */
  subject: string;
  /** Accept `http:` endpoints (local test peers only). */
  allowHttpEndpoints: boolean;
}

/** Parses a target's address; returns the reason (without any of its content) when it is not one. */
export function parseSubscription(address: string, allowHttp: boolean): WebPushSubscription | string {
  let v: unknown;
  try {
    v = JSON.parse(address);
  } catch {
    return 'the address is not JSON; expected a subscription {endpoint, keys: {p256dh, auth}}';
  }
  const s = v as Partial<WebPushSubscription> | null;
  if (!s || typeof s.endpoint !== 'string') return 'the subscription has no endpoint';
  let url: URL;
  try {
    url = new URL(s.endpoint);
  } catch {
    return 'the subscription endpoint is not a URL';
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    return 'the subscription endpoint must be https';
  }
  if (!s.keys || typeof s.keys.p256dh !== 'string' || typeof s.keys.auth !== 'string') {
    return 'the subscription has no keys.p256dh and keys.auth';
  }
  const p256dh = Buffer.from(s.keys.p256dh, 'base64url');
  if (p256dh.length !== 65 || p256dh[0] !== 4) return 'keys.p256dh is not an uncompressed P-256 point';
  if (Buffer.from(s.keys.auth, 'base64url').length !== 16) return 'keys.auth is not 16 bytes';
  return { endpoint: s.endpoint, keys: { p256dh: s.keys.p256dh, auth: s.keys.auth } };
}

/**
 * RFC 8291 §3.4 and RFC 8188: encrypts `plaintext` for the user agent's key `p256dh` and its
 * 16-byte `auth` secret as a single aes128gcm record, header included.
 */
export function encryptAes128gcm(plaintext: Buffer, p256dh: string, auth: string): Buffer {
  const uaPublic = Buffer.from(p256dh, 'base64url');
  const authSecret = Buffer.from(auth, 'base64url');
  const as = createECDH('prime256v1');
  const asPublic = as.generateKeys();
  const ecdhSecret = as.computeSecret(uaPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, authSecret, keyInfo, 32));
  const salt = randomBytes(16);
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  // 0x02: the padding delimiter of the last (and only) record; no further padding.
  const body = Buffer.concat([cipher.update(Buffer.concat([plaintext, Buffer.from([2])])), cipher.final(), cipher.getAuthTag()]);
  const header = Buffer.alloc(16 + 4 + 1);
  salt.copy(header, 0);
  header.writeUInt32BE(WEBPUSH_RECORD_SIZE, 16);
  header.writeUInt8(asPublic.length, 20);
  return Buffer.concat([header, asPublic, body]);
}

export class WebPushProvider {
  private readonly signer: VapidSigner;

  constructor(
    private readonly opts: WebPushOptions,
    private readonly http: HttpClient,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    this.signer = new VapidSigner(opts.vapid, opts.subject);
  }

  mask(address: string): string {
    const sub = parseSubscription(address, true);
    return typeof sub === 'string' ? 'webpush:****' : `webpush:${maskUrl(sub.endpoint)}`;
  }

  async send(msg: PushMessage, address: string, signal?: AbortSignal): Promise<ProviderResult> {
    const sub = parseSubscription(address, this.opts.allowHttpEndpoints);
    if (typeof sub === 'string') return { outcome: 'permanent', status: 'INVALID_SUBSCRIPTION', error: sub };
    const plaintext = Buffer.from(JSON.stringify(msg.payload), 'utf8');
    if (plaintext.length > WEBPUSH_MAX_PLAINTEXT) {
      return { outcome: 'permanent', status: 'PAYLOAD_TOO_LARGE', error: `payload is ${plaintext.length} bytes, over ${WEBPUSH_MAX_PLAINTEXT}` };
    }
    const url = new URL(sub.endpoint);
    let body: Buffer;
    try {
      body = encryptAes128gcm(plaintext, sub.keys.p256dh, sub.keys.auth);
    } catch {
      // 65 bytes starting 0x04 but not a point on P-256: this subscription can never be written to.
      return { outcome: 'permanent', status: 'INVALID_SUBSCRIPTION', error: 'keys.p256dh is not a point on P-256' };
    }
    const secrets = [sub.endpoint, url.pathname, url.search, sub.keys.p256dh, sub.keys.auth, this.opts.vapid.privateKey];
    try {
      const answer = await this.http.request({
        url: sub.endpoint,
        method: 'POST',
        headers: {
          authorization: this.signer.header(url.origin, this.clock.now()),
          'content-encoding': 'aes128gcm',
          'content-type': 'application/octet-stream',
          ttl: String(msg.ttlSeconds),
          urgency: webPushUrgency(msg.level),
          topic: msg.collapseId,
        },
        body,
        timeoutMs: this.timeoutMs,
        signal,
      });
      const { outcome, retryAfterMs } = classifyStatus(answer.status, answer.headers, this.clock.now());
      if (outcome === 'ok') return { outcome, status: answer.status };
      const gone = answer.status === 404 || answer.status === 410;
      const text = redact(answer.body.replace(/\s+/g, ' ').trim(), secrets);
      const result: ProviderResult = {
        outcome,
        status: answer.status,
        error: `push service ${url.origin} answered ${answer.status}${gone ? ' (subscription gone)' : ''}${text ? `: ${text}` : ''}`,
      };
      if (gone) result.targetGone = true;
      if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
      return result;
    } catch (e) {
      if (e instanceof HttpFailure) return failureResult(e, 'push service: ');
      throw e;
    }
  }
}
