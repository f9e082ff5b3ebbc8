/**
 * Who is signed in and what they may see: found by asking the API with the token (an API key
 * `vgl_…` or a user token `vgu_…`), kept with the token in sessionStorage.
 */
import { ApiError, api, clearToken, setToken } from './api';

export interface Session {
  kind: 'key' | 'user';
  /** The token may read events and statistics (`read` scope). */
  canRead: boolean;
  /** The token has an inbox (a user token, or a key the inbox accepts). */
  hasInbox: boolean;
}

const SESSION_KEY = 'vigil.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function signOut(): void {
  clearToken();
  sessionStorage.removeItem(SESSION_KEY);
}

async function probe(path: string, token: string): Promise<'ok' | 'refused' | 'denied'> {
  try {
    await api(path, { token, query: path === '/v1/events' ? { limit: 1 } : undefined });
    return 'ok';
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return 'refused';
    // 403: not this scope; 400: an API key has no inbox of its own (user_id required); 404: no such route.
    if (err instanceof ApiError && err.status >= 400 && err.status < 500) return 'denied';
    throw err;
  }
}

/** Checks the token against the server; stores it on success, throws a message for people otherwise. */
export async function signIn(raw: string): Promise<Session> {
  const token = raw.trim();
  if (token === '') throw new Error('Paste an API key or a user token.');
  if (/\s/.test(token)) throw new Error('A token has no spaces: paste it alone.');
  const [events, inbox] = await Promise.all([probe('/v1/events', token), probe('/v1/notifications/unread-count', token)]);
  if (events === 'refused' && inbox === 'refused') throw new Error('The server does not know this token (unknown or revoked).');
  if (events !== 'ok' && inbox !== 'ok') throw new Error('This token may not read anything the dashboard shows: it needs the "read" scope, or be a user token.');
  const session: Session = { kind: token.startsWith('vgu_') ? 'user' : 'key', canRead: events === 'ok', hasInbox: inbox === 'ok' };
  setToken(token);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}
