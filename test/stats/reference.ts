/**
 * For the statistics tests: a deterministic set of events, and the statistics computed from them
 * directly in JavaScript, independently of the SQL and its rollups.
 */
import type { EventRow } from '../../src/events/types.js';
import { validateEvent } from '../../src/events/validate.js';

export const HOUR = 3_600_000;
export const T0 = Date.parse('2026-03-01T00:00:00.000Z');

/** mulberry32: the same events on every run. */
export function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const maybe = <T>(r: () => number, p: number, v: T): T | undefined => (r() < p ? v : undefined);
/** A duration with some exact zeros and a wide spread (0.01 ms to ~20 s). */
const duration = (r: () => number): number => (r() < 0.05 ? 0 : Math.round(Math.exp(r() * 14 - 4) * 1000) / 1000);

function fields(r: () => number): Record<string, unknown> {
  const x = Math.floor(r() * 12);
  switch (x) {
    case 0:
      return { event_type: 'model_called', model_name: pick(r, ['gpt-4', 'gpt-4o', 'claude', 'gemini']), provider: pick(r, ['openai', 'anthropic', 'google']), tokens_used: Math.floor(r() * 5000), cost_usd: Math.round(r() * 1e5) / 1e6, response_time_ms: maybe(r, 0.5, 120), task_type: maybe(r, 0.7, pick(r, ['content_generation', 'research', 'review'])) };
    case 1:
      return { event_type: 'agent_executed', agent_name: pick(r, ['A', 'B', 'Écrivain', 'z-agent']), task_type: 'gen', status: pick(r, ['success', 'failure', 'SUCCESS', 'timeout']), execution_time_ms: r() < 0.1 ? null : duration(r) };
    case 2:
      return { event_type: 'task_created', task_id: `t${Math.floor(r() * 1e6)}`, task_type: 'gen', created_by: 'u1' };
    case 3:
      return { event_type: 'task_completed', task_id: `t${Math.floor(r() * 1e6)}`, execution_time_ms: maybe(r, 0.85, duration(r)) };
    case 4:
      return { event_type: 'task_failed', task_id: `t${Math.floor(r() * 1e6)}`, error_message: 'boom', error_type: maybe(r, 0.7, pick(r, ['TimeoutError', 'EmptyResponseError'])) };
    case 5:
      return { event_type: 'cache_operation', operation: pick(r, ['get', 'set', 'delete']), cache_key: 'k', hit_miss: maybe(r, 0.8, pick(r, ['hit', 'miss', 'HIT', 'stale'])) };
    case 6:
      return { event_type: 'error', error_type: pick(r, ['TimeoutError', 'ValueError', 'RateLimitError']), error_message: 'x', component: pick(r, ['api', 'worker', 'ContentAgent']) };
    case 7:
      return { event_type: 'permission_denied', user_id: pick(r, ['u1', 'u2', 'u3', 'u4', 'u5']), permission: 'p', resource: `res_${Math.floor(r() * 30)}`, action: 'delete' };
    case 8:
      return { event_type: 'database_query', query_type: 'SELECT', table_name: pick(r, ['tasks', 'users', 'logs']), execution_time_ms: duration(r) };
    case 9:
      return { event_type: 'api_call', endpoint: '/x', method: 'GET', status_code: 200 };
    case 10:
      return { event_type: 'task_updated', task_id: 't1', updated_by: 'u1', changes: { a: 1 } };
    default:
      return { event_type: 'content_generated', content_type: 'post', content_id: 'c1', agent_name: 'A' };
  }
}

/**
 * `n` events over `hours` hours from T0, at random milliseconds, plus one of each type exactly on
 * each of a few hour boundaries (to test inclusive `since` / exclusive `until`).
 */
export function makeEvents(n: number, hours: number, seed = 7): EventRow[] {
  const r = prng(seed);
  const rows: EventRow[] = [];
  const add = (time: number, f: Record<string, unknown>) => {
    const v = validateEvent({ ...f, timestamp: new Date(time).toISOString() }, Date.now());
    if (!v.ok) throw new Error(`test event refused: ${JSON.stringify(v.problems)}`);
    rows.push(v.row);
  };
  for (let i = 0; i < n; i++) add(T0 + Math.floor(r() * hours * HOUR), fields(r));
  for (const h of [0, 7, 12, 40]) for (let i = 0; i < 12; i++) add(T0 + h * HOUR, fields(r));
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The reference: each statistic as docs/stats.md defines it, over plain arrays.

type M = Record<string, unknown>;
export interface Range {
  since?: Date;
  until?: Date;
}

export function inRange(rows: readonly EventRow[], range: Range, ...types: string[]): M[] {
  const lo = range.since?.getTime() ?? -Infinity;
  const hi = range.until?.getTime() ?? Infinity;
  return rows.filter((r) => types.includes(r.event_type) && r.time >= lo && r.time < hi).map((r) => ({ ...r.metadata, _time: r.time }));
}

function group<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    m.set(k, [...(m.get(k) ?? []), x]);
  }
  return m;
}

const byCount = <T>(count: (t: T) => number, name: (t: T) => string) => (a: T, b: T) =>
  count(b) - count(a) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);
const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const isNum = (v: unknown): v is number => typeof v === 'number';

/** The exact nearest-rank percentile: the value at rank ceil(p * n) of the sorted values. */
export function nearestRank(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil(p * s.length) - 1];
}

export interface RefDurations {
  count: number;
  avg_ms: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
}

function durationsOf(values: readonly number[]): RefDurations {
  return {
    count: values.length,
    avg_ms: values.length ? sum(values) / values.length : null,
    p50_ms: nearestRank(values, 0.5),
    p95_ms: nearestRank(values, 0.95),
  };
}

export function refCosts(rows: readonly EventRow[], range: Range) {
  const ev = inRange(rows, range, 'model_called');
  const figures = (xs: M[]) => ({ calls: xs.length, tokens: sum(xs.map((x) => x.tokens_used as number)), cost_usd: sum(xs.map((x) => x.cost_usd as number)) });
  const by = (key: (x: M) => string, name: string) =>
    [...group(ev, key)].map(([k, xs]) => ({ [name]: k, ...figures(xs) })).sort(byCount((t) => t.cost_usd, (t) => String((t as Record<string, unknown>)[name])));
  return {
    total: figures(ev),
    by_model: by((x) => String(x.model_name), 'model_name'),
    by_provider: by((x) => String(x.provider), 'provider'),
    by_day: [...group(ev, (x) => new Date(x._time as number).toISOString().slice(0, 10))]
      .map(([day, xs]) => ({ day, ...figures(xs) }))
      .sort((a, b) => (a.day < b.day ? -1 : 1)),
    by_task_type: by((x) => (typeof x.task_type === 'string' ? x.task_type : ''), 'task_type'),
  };
}

export function refAgents(rows: readonly EventRow[], range: Range) {
  return [...group(inRange(rows, range, 'agent_executed'), (x) => String(x.agent_name))]
    .map(([agent_name, xs]) => {
      const successes = xs.filter((x) => String(x.status).toLowerCase() === 'success').length;
      return { agent_name, executions: xs.length, successes, success_rate: successes / xs.length, execution_time: durationsOf(xs.map((x) => x.execution_time_ms).filter(isNum)) };
    })
    .sort(byCount((a) => a.executions, (a) => a.agent_name));
}

export function refTasks(rows: readonly EventRow[], range: Range) {
  const n = (t: string) => inRange(rows, range, t).length;
  const completed = n('task_completed');
  const failed = n('task_failed');
  return {
    created: n('task_created'),
    completed,
    failed,
    success_rate: completed + failed === 0 ? null : completed / (completed + failed),
    completion_time: durationsOf(inRange(rows, range, 'task_completed').map((x) => x.execution_time_ms).filter(isNum)),
  };
}

export function refCache(rows: readonly EventRow[], range: Range) {
  const figures = (xs: M[]) => {
    const hits = xs.filter((x) => String(x.hit_miss).toLowerCase() === 'hit').length;
    const misses = xs.filter((x) => String(x.hit_miss).toLowerCase() === 'miss').length;
    return { operations: xs.length, hits, misses, hit_ratio: hits + misses === 0 ? null : hits / (hits + misses) };
  };
  const ev = inRange(rows, range, 'cache_operation');
  return {
    total: figures(ev),
    by_operation: [...group(ev, (x) => String(x.operation))].map(([operation, xs]) => ({ operation, ...figures(xs) })).sort(byCount((t) => t.operations, (t) => t.operation)),
  };
}

export function refErrors(rows: readonly EventRow[], range: Range) {
  const errs = inRange(rows, range, 'error');
  const fails = inRange(rows, range, 'task_failed');
  const types = new Set([...errs, ...fails].map((x) => (x.error_type as string | undefined) ?? null));
  return {
    errors: errs.length,
    task_failures: fails.length,
    by_component: [...group(errs, (x) => String(x.component))].map(([component, xs]) => ({ component, errors: xs.length })).sort(byCount((c) => c.errors, (c) => c.component)),
    by_error_type: [...types]
      .map((t) => {
        const e = errs.filter((x) => x.error_type === t).length;
        const f = fails.filter((x) => ((x.error_type as string | undefined) ?? null) === t).length;
        return { error_type: t, errors: e, task_failures: f, total: e + f };
      })
      .sort(byCount((t) => t.total, (t) => t.error_type ?? '')),
    by_component_and_type: [...group(errs, (x) => `${x.component}\u0000${x.error_type}`)]
      .map(([, xs]) => ({ component: String(xs[0].component), error_type: String(xs[0].error_type), errors: xs.length }))
      .sort(byCount((c) => c.errors, (c) => `${c.component}\u0000${c.error_type}`)),
  };
}

export function refSecurity(rows: readonly EventRow[], range: Range, topN: number) {
  const ev = inRange(rows, range, 'permission_denied');
  const users = [...group(ev, (x) => String(x.user_id))].map(([user_id, xs]) => ({ user_id, denials: xs.length })).sort(byCount((u) => u.denials, (u) => u.user_id));
  const resources = [...group(ev, (x) => String(x.resource))].map(([resource, xs]) => ({ resource, denials: xs.length })).sort(byCount((u) => u.denials, (u) => u.resource));
  return { denials: ev.length, distinct_users: users.length, distinct_resources: resources.length, by_user: users.slice(0, topN), by_resource: resources.slice(0, topN) };
}

export function refDatabase(rows: readonly EventRow[], range: Range) {
  return [...group(inRange(rows, range, 'database_query'), (x) => String(x.table_name))]
    .map(([table_name, xs]) => ({ table_name, queries: xs.length, execution_time: durationsOf(xs.map((x) => x.execution_time_ms).filter(isNum)) }))
    .sort(byCount((t) => t.queries, (t) => t.table_name));
}
