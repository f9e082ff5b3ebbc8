/**
 * The dashboard's only way to the server: the HTTP API with the signed-in token as a Bearer
 * header. The token lives in sessionStorage (this tab, until it closes) and never in a URL.
 */

const TOKEN_KEY = 'vigil.token';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A refusal of the API, in the server's error shape (`{code, http, error}`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Fired when the server refuses the token (401): the app goes back to sign-in. */
export const UNAUTHORISED_EVENT = 'vigil:unauthorised';

export type Query = Record<string, string | number | boolean | readonly string[] | undefined | null>;

export function queryString(q: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const item of v) p.append(k, String(item));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

export interface RequestOptions {
  method?: string;
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** The token to use instead of the stored one (sign-in tries a token before storing it). */
  token?: string;
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const token = opts.token ?? getToken();
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path + queryString(opts.query), {
      method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, null, 'the server cannot be reached');
  }
  if (!res.ok) {
    let code: number | null = null;
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { code?: number; error?: string };
      if (typeof body.code === 'number') code = body.code;
      if (typeof body.error === 'string') message = body.error;
    } catch {
      /* not JSON */
    }
    if (res.status === 401 && opts.token === undefined) window.dispatchEvent(new Event(UNAUTHORISED_EVENT));
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** The body as text (exports). */
export async function apiText(path: string, opts: RequestOptions = {}): Promise<string> {
  return (await send(path, opts)).text();
}

/** A message for people from anything thrown. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 404) return `not available on this server (${err.message})`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
