/**
 * The two JSON Web Token signatures push providers ask for (RFC 7515/7518): ES256 (VAPID, APNs)
 * and RS256 (a Google service account's assertion). node:crypto only.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export type JwtAlg = 'ES256' | 'RS256';

export function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Signs `header.claims`; ES256 signatures are the raw 64-byte r||s form (RFC 7518 §3.4). */
export function signJwt(alg: JwtAlg, header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64url(JSON.stringify({ ...header, alg }))}.${b64url(JSON.stringify(claims))}`;
  const signature =
    alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${b64url(signature)}`;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** True when the signature verifies with the key given to verifyJwt. */
  valid: boolean;
}

/** Decodes and verifies a compact JWT; throws only when it is not a JWT at all. */
export function verifyJwt(token: string, key: KeyObject | string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWT');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Record<string, unknown>;
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
  const pub = typeof key === 'string' ? createPublicKey(key) : key;
  const input = Buffer.from(`${parts[0]}.${parts[1]}`);
  const sig = Buffer.from(parts[2], 'base64url');
  let valid = false;
  if (header.alg === 'ES256') valid = verify('sha256', input, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
  else if (header.alg === 'RS256') valid = verify('sha256', input, pub, sig);
  return { header, claims, valid };
}
