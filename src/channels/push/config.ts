/**
 * The push channel's configuration: what the config file gives (`push:`), the defaults, and the
 * validation that names the offending option and never repeats a secret's value.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { APNS_PRODUCTION_URL, APNS_SANDBOX_URL, type ApnsOptions } from './apns.js';
import { FCM_DEFAULT_BASE_URL, GOOGLE_TOKEN_URI, type FcmOptions, type ServiceAccount } from './fcm.js';
import { vapidKeyProblem } from './vapid.js';
import type { WebPushOptions } from './webpush.js';

/** How long a push service keeps an undelivered message: one day, then it is stale. */
export const DEFAULT_PUSH_TTL_SECONDS = 24 * 60 * 60;
/** A provider that has not answered in 10 s is treated as down for this attempt (retryable). */
export const DEFAULT_PUSH_TIMEOUT_MS = 10_000;
/** Web Push and FCM allow four weeks; APNs stores at most that too. */
export const MAX_PUSH_TTL_SECONDS = 28 * 24 * 60 * 60;

/** `push:` as written in the config file; every platform is optional, at least one is needed. */
export interface PushConfigInput {
  /** Seconds a push service keeps an undelivered message (TTL, apns-expiration, android.ttl). */
  ttlSeconds?: number;
  /** Milliseconds to wait for a provider's answer. */
  timeoutMs?: number;
  /** Accept `http://` endpoints and base URLs: local test peers only. */
  allowHttp?: boolean;
  webpush?: {
    /** `mailto:ops@example.com` or `https://example.com/contact` (RFC 8292 `sub`). */
    subject?: string;
    vapidPublicKey?: string;
    /** Secret. */
    vapidPrivateKey?: string;
  };
  fcm?: {
    /** The service-account key: the object, or its JSON text. Secret. */
    serviceAccount?: ServiceAccount | string;
    /** Or the path of the service-account JSON file. */
    serviceAccountFile?: string;
    /** Default `https://fcm.googleapis.com`. */
    baseUrl?: string;
    /** Default: the service account's `token_uri`, else `https://oauth2.googleapis.com/token`. */
    tokenUri?: string;
  };
  apns?: {
    teamId?: string;
    keyId?: string;
    /** The .p8 key's PEM text. Secret. */
    privateKey?: string;
    /** Or the path of the .p8 file. */
    privateKeyFile?: string;
    /** The app's bundle id, sent as `apns-topic`. */
    topic?: string;
    /** `production` (default) or `sandbox`: picks the base URL. */
    environment?: 'production' | 'sandbox';
    /** Overrides the environment's base URL (a local peer in tests). */
    baseUrl?: string;
  };
}

export interface PushConfig {
  ttlSeconds: number;
  timeoutMs: number;
  allowHttp: boolean;
  webpush?: WebPushOptions;
  fcm?: FcmOptions;
  apns?: ApnsOptions;
}

export class PushConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid push configuration: ${problems.join('; ')}`);
    this.name = 'PushConfigError';
  }
}

const TEN_CHAR_ID = /^[A-Z0-9]{10}$/;

export function resolvePushConfig(input: PushConfigInput): PushConfig {
  const problems: string[] = [];
  const ttlSeconds = input.ttlSeconds ?? DEFAULT_PUSH_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > MAX_PUSH_TTL_SECONDS) {
    problems.push(`push.ttlSeconds must be an integer from 0 to ${MAX_PUSH_TTL_SECONDS}`);
  }
  const timeoutMs = input.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) problems.push('push.timeoutMs must be a positive integer (milliseconds)');
  const allowHttp = input.allowHttp ?? false;
  if (typeof allowHttp !== 'boolean') problems.push('push.allowHttp must be true or false');
  const config: PushConfig = { ttlSeconds, timeoutMs, allowHttp };
  const url = (name: string, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    try {
      const u = new URL(value);
      if (u.protocol === 'https:' || (allowHttp && u.protocol === 'http:')) return value;
    } catch {
      // fall through
    }
    problems.push(`${name} must be an https URL${allowHttp ? ' (or http)' : ''}`);
    return undefined;
  };

  if (input.webpush) {
    const w = input.webpush;
    const subject = w.subject ?? '';
    if (!/^(mailto:\S+@\S+|https:\/\/\S+)$/.test(subject)) {
      problems.push('push.webpush.subject must be a mailto: address or an https: URL (RFC 8292)');
    }
    if (!w.vapidPublicKey || !w.vapidPrivateKey) {
      problems.push('push.webpush.vapidPublicKey and push.webpush.vapidPrivateKey are required (see `generateVapidKeys`)');
    } else {
      const problem = vapidKeyProblem({ publicKey: w.vapidPublicKey, privateKey: w.vapidPrivateKey });
      if (problem) problems.push(`push.webpush: ${problem.replace(/(publicKey|privateKey)/g, (k) => `vapid${k[0].toUpperCase()}${k.slice(1)}`)}`);
      else config.webpush = { subject, vapid: { publicKey: w.vapidPublicKey, privateKey: w.vapidPrivateKey }, allowHttpEndpoints: allowHttp };
    }
  }

  if (input.fcm) {
    const f = input.fcm;
    const sa = serviceAccount(f, problems);
    const baseUrl = url('push.fcm.baseUrl', f.baseUrl ?? FCM_DEFAULT_BASE_URL);
    const tokenUri = url('push.fcm.tokenUri', f.tokenUri ?? sa?.token_uri ?? GOOGLE_TOKEN_URI);
    if (sa && baseUrl && tokenUri) config.fcm = { serviceAccount: sa, baseUrl, tokenUri };
  }

  if (input.apns) {
    const a = input.apns;
    if (!a.teamId || !TEN_CHAR_ID.test(a.teamId)) problems.push('push.apns.teamId must be the 10-character Team ID');
    if (!a.keyId || !TEN_CHAR_ID.test(a.keyId)) problems.push('push.apns.keyId must be the 10-character key id of the .p8 key');
    if (!a.topic) problems.push('push.apns.topic must be the app bundle id');
    const env = a.environment ?? 'production';
    if (env !== 'production' && env !== 'sandbox') problems.push("push.apns.environment must be 'production' or 'sandbox'");
    const baseUrl = url('push.apns.baseUrl', a.baseUrl ?? (env === 'sandbox' ? APNS_SANDBOX_URL : APNS_PRODUCTION_URL));
    const pem = secretText('push.apns.privateKey', a.privateKey, 'push.apns.privateKeyFile', a.privateKeyFile, problems);
    let keyOk = false;
    if (pem !== undefined) {
      try {
        const k = createPrivateKey(pem);
        keyOk = k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1';
      } catch {
        keyOk = false;
      }
      if (!keyOk) problems.push('push.apns.privateKey must be the PEM text of a P-256 .p8 key');
    }
    if (keyOk && baseUrl && a.teamId && a.keyId && a.topic) {
      config.apns = { teamId: a.teamId, keyId: a.keyId, privateKey: pem!, topic: a.topic, baseUrl };
    }
  }

  if (!input.webpush && !input.fcm && !input.apns) problems.push('push needs at least one of push.webpush, push.fcm, push.apns');
  if (problems.length > 0) throw new PushConfigError(problems);
  return config;
}

function secretText(name: string, value: string | undefined, fileName: string, file: string | undefined, problems: string[]): string | undefined {
  if (value !== undefined && file !== undefined) {
    problems.push(`give ${name} or ${fileName}, not both`);
    return undefined;
  }
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      problems.push(`${fileName} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  }
  if (value === undefined || value === '') problems.push(`${name} (or ${fileName}) is required`);
  return value || undefined;
}

function serviceAccount(f: NonNullable<PushConfigInput['fcm']>, problems: string[]): ServiceAccount | undefined {
  let raw: unknown = f.serviceAccount;
  if (typeof raw === 'string' || f.serviceAccountFile !== undefined) {
    const text = secretText('push.fcm.serviceAccount', typeof raw === 'string' ? raw : undefined, 'push.fcm.serviceAccountFile', f.serviceAccountFile, problems);
    if (text === undefined) return undefined;
    try {
      raw = JSON.parse(text);
    } catch {
      problems.push('push.fcm.serviceAccount is not JSON (expected the service-account key file)');
      return undefined;
    }
  }
  if (!raw || typeof raw !== 'object') {
    problems.push('push.fcm.serviceAccount (or push.fcm.serviceAccountFile) is required');
    return undefined;
  }
  const sa = raw as Partial<ServiceAccount>;
  const before = problems.length;
  for (const field of ['project_id', 'client_email', 'private_key'] as const) {
    if (typeof sa[field] !== 'string' || sa[field] === '') problems.push(`push.fcm.serviceAccount.${field} is required`);
  }
  if (typeof sa.private_key === 'string' && sa.private_key !== '') {
    try {
      if (createPrivateKey(sa.private_key).asymmetricKeyType !== 'rsa') throw new Error('not rsa');
    } catch {
      problems.push('push.fcm.serviceAccount.private_key must be a PEM RSA private key');
    }
  }
  if (problems.length > before) return undefined;
  return {
    project_id: sa.project_id!,
    client_email: sa.client_email!,
    private_key: sa.private_key!,
    private_key_id: typeof sa.private_key_id === 'string' ? sa.private_key_id : undefined,
    token_uri: typeof sa.token_uri === 'string' ? sa.token_uri : undefined,
  };
}
