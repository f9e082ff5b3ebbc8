/**
 * The interventions of a Vigil server, for remote use: the same operations as InterventionService
 * over the HTTP API (docs/api.md#interventions). Checking, opening, acknowledging, resolving and
 * recording errors need a key with the `respond` scope; listing and showing, `read`.
 *
 *   const vigil = createInterventionClient({ url: 'http://127.0.0.1:4870', apiKey });
 *   const { needed, level, reasons } = await vigil.check({ id: 't1', confidence: 0.4 });
 *
 * A refusal throws InterventionClientError with the catalogue's code and HTTP status.
 */
import type { CheckContext, Reason, TaskInput } from '../rules/check.js';
import type { InterventionLevel } from '../interventions/levels.js';
import type { InterventionDetail, ListQuery } from '../interventions/service.js';
import type { Silence } from '../interventions/silences.js';
import type { Intervention } from '../interventions/types.js';
import type { Thresholds } from '../rules/thresholds.js';

export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;

export interface InterventionClientOptions {
  /** The Vigil server, e.g. `http://127.0.0.1:4870`. */
  url: string;
  apiKey: string;
  timeoutMs?: number;
}

export class InterventionClientError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** The catalogue's code (docs/api.md#errors), when the server answered one. */
    readonly code: number | null,
    readonly problems: readonly unknown[] = [],
  ) {
    super(message);
    this.name = 'InterventionClientError';
  }
}

export interface RemoteCheckResult {
  needed: boolean;
  level: InterventionLevel | null;
  reasons: Reason[];
  intervention: Intervention | null;
  created: boolean;
  facts: { error_count: number; budget_used: number | null };
}

export interface RemoteOpenInput {
  level: InterventionLevel;
  title: string;
  message?: string;
  task_id?: string | null;
  reasons?: string[];
  context?: Record<string, unknown>;
  dedupe_key?: string;
}

export interface SilenceRequest {
  matchers: { field: string; op?: string; value?: unknown }[];
  starts_at?: string;
  ends_at?: string;
  duration?: string | number;
  comment?: string;
}

export interface InterventionClient {
  check(task: TaskInput, context?: CheckContext, opts?: { dry_run?: boolean }): Promise<RemoteCheckResult>;
  open(input: RemoteOpenInput): Promise<{ intervention: Intervention; created: boolean }>;
  list(q?: Omit<ListQuery, 'limit'> & { limit?: number }): Promise<{ interventions: Intervention[]; next_cursor: string | null }>;
  /** Null when there is no such intervention. */
  get(id: string): Promise<InterventionDetail | null>;
  ack(id: string): Promise<Intervention>;
  resolve(id: string, note?: string): Promise<Intervention>;
  /** Records an error of a task (a task_failed event); answers the errors now counted. */
  recordError(taskId: string, error: unknown): Promise<{ event_id: string; error_count: number; interventions: string[] }>;
  /** Forgets the errors counted for a task; answers how many were forgotten. */
  resetErrorCount(taskId: string): Promise<number>;
  errorCount(taskId: string): Promise<number>;
  addSilence(s: SilenceRequest): Promise<Silence>;
  listSilences(q?: { all?: boolean; active?: boolean }): Promise<Silence[]>;
  expireSilence(id: string): Promise<Silence>;
  thresholds(): Promise<Thresholds>;
  /** Needs an `admin` key. */
  updateThresholds(update: Partial<Thresholds>): Promise<Thresholds>;
}

function query(q: Record<string, unknown>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null) p.append(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

const seg = (s: string): string => encodeURIComponent(s);

export function createInterventionClient(opts: InterventionClientOptions): InterventionClient {
  if (typeof opts.url !== 'string' || !/^https?:\/\//.test(opts.url)) throw new TypeError(`url: expected an http:// or https:// URL, got ${JSON.stringify(opts.url)}`);
  if (typeof opts.apiKey !== 'string' || opts.apiKey.length === 0) throw new TypeError('apiKey: required (a key with the respond or read scope)');
  const base = opts.url.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;

  async function call<T>(method: string, path: string, body?: unknown, allow404 = false): Promise<T | null> {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${opts.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new InterventionClientError(`Vigil server unreachable at ${base} (${cause})`, 0, null);
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
    if (res.ok) return json as T;
    if (res.status === 404 && allow404 && json.code !== 40401) return null;
    const message = typeof json.error === 'string' ? json.error : text.slice(0, 300);
    throw new InterventionClientError(`Vigil answered ${res.status}: ${message}`, res.status, typeof json.code === 'number' ? json.code : null, Array.isArray(json.problems) ? json.problems : []);
  }
  const must = async <T>(p: Promise<T | null>): Promise<T> => (await p) as T;

  return {
    check: (task, context, o) => must(call('POST', '/v1/interventions/check', { task, ...(context ? { context } : {}), ...(o?.dry_run ? { dry_run: true } : {}) })),
    open: (input) => must(call('POST', '/v1/interventions', input)),
    list: (q = {}) => must(call('GET', '/v1/interventions' + query({ ...q }))),
    get: (id) => call('GET', `/v1/interventions/${seg(id)}`, undefined, true),
    ack: (id) => must(call('POST', `/v1/interventions/${seg(id)}/ack`, {})),
    resolve: (id, note) => must(call('POST', `/v1/interventions/${seg(id)}/resolve`, note === undefined ? {} : { note })),
    recordError: (taskId, error) => {
      const e = error instanceof Error ? { message: error.message, type: error.name } : typeof error === 'object' && error !== null ? (error as { message?: unknown; type?: unknown }) : { message: String(error) };
      const body = { message: String(e.message ?? 'error'), ...(typeof e.type === 'string' && e.type !== '' ? { type: e.type } : {}) };
      return must(call('POST', `/v1/tasks/${seg(taskId)}/errors`, body));
    },
    resetErrorCount: async (taskId) => (await must(call<{ forgotten: number }>('DELETE', `/v1/tasks/${seg(taskId)}/errors`))).forgotten,
    errorCount: async (taskId) => (await must(call<{ error_count: number }>('GET', `/v1/tasks/${seg(taskId)}/errors`))).error_count,
    addSilence: (s) => must(call('POST', '/v1/silences', s)),
    listSilences: async (q = {}) => (await must(call<{ silences: Silence[] }>('GET', '/v1/silences' + query(q)))).silences,
    expireSilence: (id) => must(call('DELETE', `/v1/silences/${seg(id)}`)),
    thresholds: () => must(call('GET', '/v1/thresholds')),
    updateThresholds: (update) => must(call('PUT', '/v1/thresholds', update)),
  };
}
