/**
 * The remote logger: the same 12 methods and guarantees as the in-process one, committing to a
 * Vigil server over HTTP (`POST /v1/events`). Ids are stamped here, so a batch re-sent after a
 * lost answer is stored once; while the server is unreachable or answers 503/429, batches wait
 * in the on-disk spool and are replayed in order.
 */
import { join } from 'node:path';
import type { EventSink } from '../events/sink.js';
import type { EventRow } from '../events/types.js';
import { DEFAULT_DATA_DIR } from '../store/open.js';
import { buildAuditLogger, type AuditLogger, type CommonLoggerOptions } from './auditLogger.js';

/** The server's limits for one request (see docs/api.md). */
export const MAX_EVENTS_PER_REQUEST = 1_000;
export const MAX_REQUEST_BYTES = 5 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface RemoteLoggerOptions extends CommonLoggerOptions {
  /** The Vigil server, e.g. `http://127.0.0.1:4870`. */
  url: string;
  /** An API key with the `ingest` scope. */
  apiKey: string;
  /** Default `./.vigil/remote-spool`. */
  spoolDir?: string;
  requestTimeoutMs?: number;
}

/** A failed request, with what the writer needs to decide: retry (when) or set the rows aside. */
export class RemoteWriteError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RemoteWriteError';
  }
}

function toWire(r: EventRow): Record<string, unknown> {
  return { ...r.metadata, id: r.id, timestamp: new Date(r.time).toISOString(), level: r.level, message: r.message };
}

function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

/** Splits rows into request bodies within the server's count and size limits. */
export function* requestBodies(rows: readonly EventRow[]): Generator<string> {
  let parts: string[] = [];
  let bytes = 12;
  for (const r of rows) {
    const json = JSON.stringify(toWire(r));
    const size = Buffer.byteLength(json) + 1;
    if (parts.length > 0 && (parts.length >= MAX_EVENTS_PER_REQUEST || bytes + size > MAX_REQUEST_BYTES)) {
      yield `{"events":[${parts.join(',')}]}`;
      parts = [];
      bytes = 12;
    }
    parts.push(json);
    bytes += size;
  }
  if (parts.length > 0) yield `{"events":[${parts.join(',')}]}`;
}

export function httpSink(opts: { url: string; apiKey: string; timeoutMs: number }): EventSink {
  const endpoint = new URL('/v1/events', opts.url).toString();
  return {
    async write(rows) {
      for (const body of requestBodies(rows)) {
        let res: Response;
        try {
          res = await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.apiKey}` },
            body,
            signal: AbortSignal.timeout(opts.timeoutMs),
          });
        } catch (err) {
          const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
          throw new RemoteWriteError(`Vigil server unreachable at ${endpoint} (${cause})`, false);
        }
        const text = await res.text();
        if (res.status === 200) continue;
        const detail = text.slice(0, 300);
        if (res.status === 207 || res.status === 400 || res.status === 413) {
          // Validated here already: the server refusing means a version difference. Set aside.
          throw new RemoteWriteError(`Vigil server refused events (${res.status}): ${detail}`, true);
        }
        if (res.status === 401 || res.status === 403) {
          // A configuration problem: keep the events spooled until the key is fixed.
          throw new RemoteWriteError(`Vigil server refused the API key (${res.status}): ${detail}`, false);
        }
        throw new RemoteWriteError(`Vigil server answered ${res.status}: ${detail}`, false, retryAfter(res.headers.get('retry-after')));
      }
    },
    isPermanent: (err) => err instanceof RemoteWriteError && err.permanent,
    close: async () => undefined,
  };
}

export function createRemoteLogger(opts: RemoteLoggerOptions): AuditLogger {
  if (typeof opts.url !== 'string' || !/^https?:\/\//.test(opts.url)) throw new TypeError(`url: expected an http:// or https:// URL, got ${JSON.stringify(opts.url)}`);
  if (typeof opts.apiKey !== 'string' || opts.apiKey.length === 0) throw new TypeError('apiKey: required with url (a key with the ingest scope)');
  return buildAuditLogger(opts, {
    sink: httpSink({ url: opts.url, apiKey: opts.apiKey, timeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS }),
    spoolDir: opts.spoolDir ?? join(DEFAULT_DATA_DIR, 'remote-spool'),
  });
}
