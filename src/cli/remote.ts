/** The CLI's backend over a running server's HTTP API (fetch, the local CLI key as Bearer). */
import type { Page } from '../events/queries.js';
import type { ApiKeyInfo, NewKey } from '../http/apiKeys.js';
import type { ExportFormat } from '../http/exportFormat.js';
import type { FilterQuery } from '../http/filters.js';
import type { Backend, ListQuery } from './backend.js';
import { CliError } from './io.js';

export function queryString(q: Record<string, unknown>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, String(x));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s === '' ? '' : '?' + s;
}

export class RemoteBackend implements Backend {
  constructor(
    private readonly url: string,
    private readonly key: string,
    readonly description: string,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(`cannot reach ${this.description}: ${(err as Error).message}`);
    }
    if (!res.ok) {
      const text = await res.text();
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        /* not JSON */
      }
      throw new CliError(`${this.description} answered ${res.status}: ${msg}`);
    }
    return res;
  }

  /** Any JSON call of the API (the trust commands). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.call(method, path, body)).json()) as T;
  }

  async listEvents(q: ListQuery): Promise<Page> {
    return (await (await this.call('GET', '/v1/events' + queryString({ ...q }))).json()) as Page;
  }

  async *exportEvents(q: FilterQuery, format: ExportFormat): AsyncIterable<string> {
    const res = await this.call('GET', '/v1/events/export' + queryString({ ...q, format }));
    if (res.body === null) return;
    const decoder = new TextDecoder();
    for await (const chunk of res.body) yield decoder.decode(chunk as Uint8Array, { stream: true });
    const rest = decoder.decode();
    if (rest !== '') yield rest;
  }

  async createKey(k: NewKey): Promise<ApiKeyInfo & { key: string }> {
    const res = await this.call('POST', '/v1/keys', { name: k.name, scopes: k.scopes, rate_limit_per_minute: k.rateLimitPerMinute ?? null });
    return (await res.json()) as ApiKeyInfo & { key: string };
  }

  async listKeys(includeRevoked: boolean): Promise<ApiKeyInfo[]> {
    return ((await (await this.call('GET', '/v1/keys' + queryString({ include_revoked: includeRevoked }))).json()) as { keys: ApiKeyInfo[] }).keys;
  }

  async revokeKey(ref: string): Promise<ApiKeyInfo> {
    return (await (await this.call('DELETE', '/v1/keys/' + encodeURIComponent(ref))).json()) as ApiKeyInfo;
  }

  async close(): Promise<void> {}
}
