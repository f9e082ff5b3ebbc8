/**
 * API keys: creating, listing, revoking and verifying them. The SQL on `api_keys` lives here.
 *
 * A key is `vgl_` followed by 43 base64url characters (256 random bits). Only its SHA-256 is
 * stored; the key itself is shown once, when it is created.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../store/store.js';
import { isUuid, uuidv7 } from '../events/uuid7.js';

export const SCOPES = ['ingest', 'read', 'admin', 'respond'] as const;
export type Scope = (typeof SCOPES)[number];

export const KEY_PREFIX = 'vgl_';
/** Characters of a key kept in clear, to recognise it in `vigil keys list`. */
const SHOWN_PREFIX_CHARS = 10;

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  rate_limit_per_minute: number | null;
  created_at: string;
  revoked_at: string | null;
}

/** Who made a request: a stored key, or the server's local CLI key. */
export interface Principal {
  id: string;
  name: string;
  scopes: readonly Scope[];
  rateLimitPerMinute: number | null;
}

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Whether `scopes` grant `needed`: `admin` grants every scope. */
export function hasScope(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes(needed) || scopes.includes('admin');
}

/** Parses `ingest,read` into scopes; throws naming the bad one. */
export function parseScopes(text: string | readonly string[]): Scope[] {
  const list = (typeof text === 'string' ? text.split(',') : [...text]).map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new Error(`no scope given; choose among ${SCOPES.join(', ')}`);
  for (const s of list) if (!(SCOPES as readonly string[]).includes(s)) throw new Error(`unknown scope "${s}"; choose among ${SCOPES.join(', ')}`);
  return [...new Set(list)] as Scope[];
}

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  rate_limit_per_minute: number | null;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

const iso = (v: Date | string | null): string | null => (v === null ? null : new Date(v).toISOString());

function toInfo(r: KeyRow): ApiKeyInfo {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes as Scope[],
    rate_limit_per_minute: r.rate_limit_per_minute,
    created_at: iso(r.created_at)!,
    revoked_at: iso(r.revoked_at),
  };
}

const COLUMNS = 'id, name, prefix, scopes, rate_limit_per_minute, created_at, revoked_at';

export interface NewKey {
  name: string;
  scopes: readonly Scope[];
  rateLimitPerMinute?: number | null;
}

/** Creates a key; the returned `key` is the only time it is visible. */
export async function createKey(db: Queryable, k: NewKey): Promise<ApiKeyInfo & { key: string }> {
  const key = generateKey();
  const { rows } = await db.query<KeyRow>(
    `INSERT INTO api_keys (id, name, key_hash, prefix, scopes, rate_limit_per_minute)
     VALUES ($1, $2, $3, $4, $5::text[], $6)
     RETURNING ${COLUMNS}`,
    [uuidv7(), k.name, hashKey(key), key.slice(0, SHOWN_PREFIX_CHARS), [...k.scopes], k.rateLimitPerMinute ?? null],
  );
  return { ...toInfo(rows[0]), key };
}

export async function listKeys(db: Queryable, opts: { includeRevoked?: boolean } = {}): Promise<ApiKeyInfo[]> {
  const { rows } = await db.query<KeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE $1::boolean OR revoked_at IS NULL ORDER BY created_at, id`,
    [opts.includeRevoked === true],
  );
  return rows.map(toInfo);
}

export async function countActiveKeys(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL');
  return rows[0].n;
}

export class KeyNotFoundError extends Error {}

/**
 * Revokes the active key whose id or name is `ref`. Throws KeyNotFoundError when none matches,
 * or when a name matches several keys (then the id is needed).
 */
export async function revokeKey(db: Queryable, ref: string): Promise<ApiKeyInfo> {
  const { rows } = await db.query<KeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE revoked_at IS NULL AND (($1::boolean AND id = $2::uuid) OR name = $3)`,
    [isUuid(ref), isUuid(ref) ? ref : '00000000-0000-0000-0000-000000000000', ref],
  );
  if (rows.length === 0) throw new KeyNotFoundError(`no active key has the id or name "${ref}"`);
  if (rows.length > 1) throw new KeyNotFoundError(`${rows.length} active keys are named "${ref}"; revoke one by its id`);
  const done = await db.query<KeyRow>(`UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [rows[0].id]);
  return toInfo(done.rows[0]);
}

/** The active key with this secret, or null. */
export async function findKey(db: Queryable, key: string): Promise<Principal | null> {
  const { rows } = await db.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, [hashKey(key)]);
  if (rows.length === 0) return null;
  const r = rows[0];
  return { id: r.id, name: r.name, scopes: r.scopes as Scope[], rateLimitPerMinute: r.rate_limit_per_minute };
}
