/**
 * Users (the people with an inbox) and their tokens. A token is `vgu_` followed by 43 base64url
 * characters (256 random bits); only its SHA-256 is stored and it is shown once, when made.
 * A user token signs in as that user only: its inbox, its stream, its push subscriptions.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isUuid, uuidv7 } from '../events/uuid7.js';
import type { Principal } from '../http/apiKeys.js';
import type { Queryable } from '../store/store.js';

export const USER_TOKEN_PREFIX = 'vgu_';
const SHOWN_PREFIX_CHARS = 10;

export interface User {
  id: string;
  name: string;
  created_at: string;
}

export class UserNotFoundError extends Error {}
export class UserExistsError extends Error {}

export function isUserToken(token: string): boolean {
  return token.startsWith(USER_TOKEN_PREFIX);
}

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

interface UserRow {
  id: string;
  name: string;
  created_at: Date | string;
}

const toUser = (r: UserRow): User => ({ id: r.id, name: r.name, created_at: new Date(r.created_at).toISOString() });

/** Creates a user with a first token; the token is visible only in this answer. */
export async function createUser(db: Queryable, name: string): Promise<User & { token: string }> {
  const existing = await db.query('SELECT 1 FROM users WHERE name = $1', [name]);
  if (existing.rows.length > 0) throw new UserExistsError(`a user named "${name}" exists; make a new token with "vigil users token --name ${name}"`);
  const { rows } = await db.query<UserRow>('INSERT INTO users (id, name) VALUES ($1, $2) RETURNING id, name, created_at', [uuidv7(), name]);
  const user = toUser(rows[0]);
  return { ...user, token: await createUserToken(db, user.id) };
}

export async function listUsers(db: Queryable): Promise<User[]> {
  const { rows } = await db.query<UserRow>('SELECT id, name, created_at FROM users ORDER BY name');
  return rows.map(toUser);
}

/** The user whose id or name is `ref`; throws UserNotFoundError. */
export async function findUser(db: Queryable, ref: string): Promise<User> {
  const { rows } = await db.query<UserRow>('SELECT id, name, created_at FROM users WHERE ($1::boolean AND id = $2::uuid) OR name = $3', [
    isUuid(ref),
    isUuid(ref) ? ref : '00000000-0000-0000-0000-000000000000',
    ref,
  ]);
  if (rows.length === 0) throw new UserNotFoundError(`no user has the id or name "${ref}"`);
  return toUser(rows[0]);
}

/** A new token for the user (older tokens keep working until revoked). */
export async function createUserToken(db: Queryable, userId: string): Promise<string> {
  const token = USER_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  await db.query('INSERT INTO user_tokens (id, user_id, token_hash, prefix) VALUES ($1, $2, $3, $4)', [uuidv7(), userId, hashToken(token), token.slice(0, SHOWN_PREFIX_CHARS)]);
  return token;
}

/** The user an active token belongs to, or null. */
export async function findUserByToken(db: Queryable, token: string): Promise<User | null> {
  const { rows } = await db.query<UserRow>(
    `SELECT u.id, u.name, u.created_at FROM user_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
    [hashToken(token)],
  );
  return rows.length === 0 ? null : toUser(rows[0]);
}

/** Every user's id (the `*` target of the in-app channel). */
export async function allUserIds(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM users ORDER BY id');
  return rows.map((r) => r.id);
}

/** How a signed-in user appears to the HTTP layer: no scope; routes marked `users` accept it for itself. */
export function userPrincipal(user: User): Principal {
  return { id: `user:${user.id}`, name: `user ${user.name}`, scopes: [], rateLimitPerMinute: null };
}
