/**
 * VAPID (RFC 8292): the application server's P-256 key pair, and the
 * `Authorization: vapid t=<ES256 JWT>, k=<public key>` header that identifies it to a push service.
 */
import { createECDH, createPrivateKey, type KeyObject } from 'node:crypto';
import { signJwt } from './jwt.js';

/** RFC 8292 §2: `exp` must be no more than 24 hours after the request; we use 12. */
export const VAPID_TOKEN_LIFETIME_S = 12 * 60 * 60;
/** A signed header is reused for the same push service until this close to its expiry. */
export const VAPID_REUSE_MARGIN_S = 60 * 60;

export interface VapidKeys {
  /** Uncompressed P-256 point (65 bytes), base64url: what the browser's `applicationServerKey` takes. */
  publicKey: string;
  /** The 32-byte private scalar, base64url. Secret. */
  privateKey: string;
}

/**
 * The 32 bytes of a private key. ECDH's getPrivateKey drops leading zero bytes (one key in 256 came
 * out 31 bytes long, one in 65,536 30), so such keys are padded on the left: the same number.
 */
function privateKeyBytes(privateKey: string): Buffer {
  const b = Buffer.from(privateKey, 'base64url');
  return b.length >= 30 && b.length < 32 ? Buffer.concat([Buffer.alloc(32 - b.length), b]) : b;
}

/** A new VAPID key pair, in the same base64url format as the `web-push` package's. */
export function generateVapidKeys(): VapidKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { publicKey: ecdh.getPublicKey('base64url'), privateKey: privateKeyBytes(ecdh.getPrivateKey('base64url')).toString('base64url') };
}

/**
 * Checks a key pair; returns a problem (never containing a key) or null. The public key must be
 * the one the private key derives: a mismatch would make every push service answer 401/403.
 */
export function vapidKeyProblem(keys: VapidKeys): string | null {
  const pub = Buffer.from(keys.publicKey, 'base64url');
  if (pub.length !== 65 || pub[0] !== 4) return 'publicKey must be a base64url uncompressed P-256 point (65 bytes)';
  const priv = privateKeyBytes(keys.privateKey);
  if (priv.length !== 32) return 'privateKey must be a base64url P-256 private key (32 bytes)';
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(priv);
    if (!ecdh.getPublicKey().equals(pub)) return 'publicKey does not belong to privateKey';
  } catch {
    return 'privateKey is not a valid P-256 private key';
  }
  return null;
}

export function vapidSigningKey(keys: VapidKeys): KeyObject {
  const pub = Buffer.from(keys.publicKey, 'base64url');
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: privateKeyBytes(keys.privateKey).toString('base64url'),
      x: pub.subarray(1, 33).toString('base64url'),
      y: pub.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
}

/** Signs VAPID headers, one JWT per push-service origin, reused until close to its expiry. */
export class VapidSigner {
  private readonly key: KeyObject;
  private readonly cache = new Map<string, { header: string; exp: number }>();

  constructor(
    private readonly keys: VapidKeys,
    private readonly subject: string,
  ) {
    this.key = vapidSigningKey(keys);
  }

  /** The Authorization header for a push service origin (`aud`), at `nowMs`. */
  header(audience: string, nowMs: number): string {
    const now = Math.floor(nowMs / 1000);
    const cached = this.cache.get(audience);
    if (cached && cached.exp - now > VAPID_REUSE_MARGIN_S) return cached.header;
    const exp = now + VAPID_TOKEN_LIFETIME_S;
    const jwt = signJwt('ES256', { typ: 'JWT' }, { aud: audience, exp, sub: this.subject }, this.key);
    const header = `vapid t=${jwt}, k=${this.keys.publicKey}`;
    // Bounded: a worker talks to a handful of push services (Mozilla, Google, Apple, Microsoft).
    if (this.cache.size > 64) this.cache.clear();
    this.cache.set(audience, { header, exp });
    return header;
  }
}
