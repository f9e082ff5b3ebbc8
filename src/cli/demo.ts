/**
 * `vigil demo`: a simulated agent workload against a running server, so every dashboard page has
 * something to show and interventions fire within a minute. Over HTTP only (like any platform):
 *
 * - tasks created, run by four agents, completed or failed; model calls with tokens and costs
 *   over three providers; content, API calls, database queries and cache traffic (hits and misses);
 * - one flaky task failing past the error threshold (ERROR_THRESHOLD, URGENT);
 * - one user denied again and again (SECURITY, WARNING);
 * - a batch job whose spend crosses the monthly budget's 80 % and 100 % tiers (BUDGET_EXCEEDED),
 *   unless `--no-budget`;
 * - two intervention checks (low confidence, a compliance keyword), when the key may act.
 *
 * Every event carries its own id, so a retried batch is stored once. Names carry a run id, so
 * runs do not merge into one another's interventions. Stops after --duration or on Ctrl-C.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { CliError, type CliIo } from './io.js';
import { stopSignal } from './log.js';

export const DEFAULT_DEMO_DURATION_S = 60;
/** How often a batch of simulated activity is posted, in ms. */
export const DEMO_TICK_MS = 500;
/** The original's default budget (US dollars a month), when the server does not say. */
const FALLBACK_BUDGET_USD = 100;
/** The budget is pushed to this share of itself (past the 80 % and 100 % tiers), within this time. */
const BUDGET_TARGET = 1.05;
const BUDGET_RAMP_MS = 40_000;

const AGENTS = [
  { name: 'ContentAgent', task: 'content_generation', failRate: 0.08, ms: 4000 },
  { name: 'ResearchAgent', task: 'research', failRate: 0.15, ms: 9000 },
  { name: 'ReviewAgent', task: 'review', failRate: 0.04, ms: 1500 },
  { name: 'SupportAgent', task: 'support_reply', failRate: 0.25, ms: 2500 },
];
const MODELS = [
  { model: 'gpt-4o', provider: 'openai', usdPer1k: 0.01 },
  { model: 'gpt-4o-mini', provider: 'openai', usdPer1k: 0.0006 },
  { model: 'claude-sonnet-4', provider: 'anthropic', usdPer1k: 0.009 },
  { model: 'gemini-2.5-flash', provider: 'google', usdPer1k: 0.0008 },
];
const USERS = ['user_alice', 'user_bob', 'user_carol', 'user_dan'];
const ERRORS = [
  ['TimeoutError', 'model call timed out after 30 s'],
  ['RateLimitError', 'provider answered 429'],
  ['EmptyResponseError', 'model returned an empty answer'],
];

type Event = Record<string, unknown>;

/** A small seeded PRNG (mulberry32): the same --seed gives the same workload. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface DemoOptions {
  url: string;
  apiKey: string;
  durationMs: number;
  budget: boolean;
  seed: number;
  io: CliIo;
  signal: AbortSignal;
}

export interface DemoSummary {
  events: number;
  refused: number;
  costUsd: number;
  checks: number;
}

class Client {
  constructor(
    private readonly url: string,
    private readonly key: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(`cannot reach ${this.url}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as T };
  }
}

const errorOf = (b: unknown): string => (typeof b === 'object' && b !== null && 'error' in b ? String((b as { error: unknown }).error) : String(b));

/** Runs the workload until the duration passes or `signal` aborts. */
export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const client = new Client(o.url.replace(/\/+$/, ''), o.apiKey);
  const rand = prng(o.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const run = randomUUID().slice(0, 6);
  const summary: DemoSummary = { events: 0, refused: 0, costUsd: 0, checks: 0 };

  // The key must ingest; the rest (stats, checks) is best effort.
  const probe = await client.call('POST', '/v1/events', { events: [] });
  if (probe.status === 401 || probe.status === 403) throw new CliError(`the server refused the key: ${errorOf(probe.body)} (the demo needs the "ingest" scope)`);

  let budgetLeft = 0;
  if (o.budget) {
    const t = await client.call<{ budget_threshold?: number }>('GET', '/v1/thresholds');
    const budget = t.status === 200 && typeof t.body.budget_threshold === 'number' ? t.body.budget_threshold : FALLBACK_BUDGET_USD;
    const now = new Date();
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
    const c = await client.call<{ total?: { cost_usd?: number } }>('GET', `/v1/stats/costs?since=${encodeURIComponent(month)}`);
    const spent = c.status === 200 ? (c.body.total?.cost_usd ?? 0) : 0;
    budgetLeft = Math.max(0, budget * BUDGET_TARGET - spent);
    o.io.stdout(`Budget: ${budget.toFixed(2)} USD a month, ${spent.toFixed(2)} spent; the demo's batch job will spend ${budgetLeft.toFixed(2)} USD.\n`);
  }

  const started = Date.now();
  const end = started + o.durationMs;
  const flakyTask = `demo-${run}-flaky`;
  const intruder = `demo-${run}-mallory`;
  let taskNo = 0;
  let flakyFailures = 0;
  let denials = 0;
  let checked = false;
  let lastReport = started;
  const ts = () => new Date().toISOString();

  function model(events: Event[], m = pick(MODELS), tokens = 200 + Math.floor(rand() * 3000), task?: { id: string; type: string }): void {
    const cost = Math.round(((tokens / 1000) * m.usdPer1k + Number.EPSILON) * 1e6) / 1e6;
    summary.costUsd += cost;
    events.push({
      event_type: 'model_called',
      model_name: m.model,
      provider: m.provider,
      tokens_used: tokens,
      cost_usd: cost,
      response_time_ms: 200 + Math.floor(rand() * 2500),
      ...(task ? { task_id: task.id, task_type: task.type } : {}),
    });
  }

  function task(events: Event[]): void {
    const a = pick(AGENTS);
    const id = `demo-${run}-task-${++taskNo}`;
    const user = pick(USERS);
    events.push({ event_type: 'task_created', task_id: id, task_type: a.task, created_by: user, description: `${a.task} for ${user}` });
    for (let i = 0, n = 1 + Math.floor(rand() * 3); i < n; i++) model(events, pick(MODELS), 200 + Math.floor(rand() * 3000), { id, type: a.task });
    const key = `${a.task}:${user}:${Math.floor(rand() * 20)}`;
    events.push({ event_type: 'cache_operation', operation: 'get', cache_key: key, status: 'success', hit_miss: rand() < 0.7 ? 'hit' : 'miss' });
    if (rand() < 0.3) events.push({ event_type: 'cache_operation', operation: 'set', cache_key: key, status: 'success' });
    events.push({ event_type: 'database_query', query_type: pick(['SELECT', 'SELECT', 'INSERT', 'UPDATE']), table_name: pick(['tasks', 'contents', 'users']), execution_time_ms: Math.round(rand() * 40 * 10) / 10, rows_affected: Math.floor(rand() * 50), status: 'success' });
    events.push({ event_type: 'api_call', endpoint: `/api/${a.task}`, method: 'POST', user_id: user, status_code: rand() < 0.05 ? 502 : 200, response_time_ms: Math.floor(rand() * 400) });
    const ms = Math.round(a.ms * (0.4 + rand() * 1.6));
    const failed = rand() < a.failRate;
    events.push({ event_type: 'agent_executed', agent_name: a.name, task_type: a.task, status: failed ? 'failure' : 'success', execution_time_ms: ms });
    if (failed) {
      const [type, message] = pick(ERRORS);
      events.push({ event_type: 'task_failed', task_id: id, error_type: type, error_message: message });
      if (rand() < 0.5) events.push({ event_type: 'error', error_type: type, error_message: message, component: a.name, user_id: user, context: { task_id: id } });
    } else {
      if (a.task === 'content_generation') events.push({ event_type: 'content_generated', content_type: 'blog_post', content_id: `${id}-c`, length_words: 300 + Math.floor(rand() * 2000), agent_name: a.name, model_used: pick(MODELS).model });
      events.push({ event_type: 'task_completed', task_id: id, result_summary: 'done', execution_time_ms: ms + Math.floor(rand() * 500) });
    }
  }

  async function checks(): Promise<void> {
    const bodies = [
      { task: { id: `demo-${run}-unsure`, text: 'Summarise the quarterly report', priority: 'normal', confidence: 0.42, agent: 'ResearchAgent' }, context: {} },
      { task: { id: `demo-${run}-contract`, text: 'Draft the supplier contract renewal', priority: 'high', confidence: 0.9, agent: 'ContentAgent' }, context: {} },
    ];
    for (const b of bodies) {
      const r = await client.call('POST', '/v1/interventions/check', b);
      if (r.status === 200 || r.status === 201) summary.checks++;
      else {
        o.io.stderr(`vigil demo: intervention check skipped (${r.status}: ${errorOf(r.body)})\n`);
        return;
      }
    }
  }

  while (!o.signal.aborted && Date.now() < end) {
    const tickStarted = Date.now();
    const elapsed = tickStarted - started;
    const events: Event[] = [];
    for (let i = 0, n = 1 + Math.floor(rand() * 3); i < n; i++) task(events);
    // The flaky task fails every other second until well past the error threshold.
    if (flakyFailures < 6 && elapsed >= 2_000 && elapsed / 1000 >= flakyFailures * 1.5) {
      flakyFailures++;
      if (flakyFailures === 1) events.push({ event_type: 'task_created', task_id: flakyTask, task_type: 'research', created_by: 'user_bob' });
      events.push({ event_type: 'task_failed', task_id: flakyTask, error_type: 'TimeoutError', error_message: `attempt ${flakyFailures}: upstream search timed out` });
    }
    // One user probes resources they may not touch.
    if (denials < 8 && elapsed >= 1_500 && rand() < 0.5) {
      denials++;
      events.push({ event_type: 'permission_denied', user_id: intruder, permission: 'tasks:delete', resource: `task_${1000 + denials}`, action: 'delete', reason: 'role viewer cannot delete tasks' });
    }
    // The batch job: big calls until the budget target is reached.
    if (budgetLeft > 0 && elapsed >= 8_000) {
      const share = Math.min(budgetLeft, (budgetLeft * DEMO_TICK_MS) / Math.max(DEMO_TICK_MS, BUDGET_RAMP_MS + 8_000 - elapsed));
      const m = MODELS[0];
      const tokens = Math.max(1, Math.round((share / m.usdPer1k) * 1000));
      model(events, m, tokens);
      budgetLeft -= (tokens / 1000) * m.usdPer1k;
      if (budgetLeft < 0.01) budgetLeft = 0;
    }
    for (const e of events) {
      e.id = randomUUID();
      e.timestamp ??= ts();
    }
    const r = await client.call<{ results?: { success: boolean; error?: string }[] }>('POST', '/v1/events', { events });
    if (r.status === 200 || r.status === 207) {
      const results = r.body.results ?? [];
      const refused = results.filter((x) => !x.success);
      summary.events += results.length - refused.length;
      summary.refused += refused.length;
      if (refused.length > 0) o.io.stderr(`vigil demo: ${refused.length} events refused: ${refused[0].error ?? ''}\n`);
    } else if (r.status === 401 || r.status === 403) {
      throw new CliError(`the server refused the key: ${errorOf(r.body)}`);
    } else {
      o.io.stderr(`vigil demo: the server answered ${r.status} (${errorOf(r.body)}); continuing\n`);
    }
    if (!checked && elapsed >= 3_000) {
      checked = true;
      await checks();
    }
    if (Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      o.io.stdout(`${Math.round((lastReport - started) / 1000)} s: ${summary.events} events, ${summary.costUsd.toFixed(2)} USD of model calls\n`);
    }
    const wait = DEMO_TICK_MS - (Date.now() - tickStarted);
    if (wait > 0) await sleep(wait, o.signal);
  }
  return summary;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('run a simulated agent workload against a running server, so the dashboard comes alive and interventions fire')
    .option('--url <url>', 'the server (default http://127.0.0.1:4870; also VIGIL_URL)')
    .option('--api-key <key>', 'an API key with the ingest scope, and read and respond for the budget and checks (also VIGIL_API_KEY)')
    .option('--duration <seconds>', 'how long to run', String(DEFAULT_DEMO_DURATION_S))
    .option('--seed <n>', 'seed of the simulated workload', '1')
    .option('--no-budget', 'do not push spend past the monthly budget')
    .action(async (flags: { url?: string; apiKey?: string; duration: string; seed: string; budget: boolean }) => {
      const env = io.env ?? process.env;
      const url = flags.url ?? env.VIGIL_URL ?? 'http://127.0.0.1:4870';
      const apiKey = flags.apiKey ?? env.VIGIL_API_KEY;
      if (!apiKey) throw new CliError('--api-key (or VIGIL_API_KEY) is required: an API key with the ingest scope');
      if (!/^https?:\/\//.test(url)) throw new CliError(`--url: expected an http(s) URL, got "${url}"`);
      const seconds = Number(flags.duration);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new CliError(`--duration: expected a positive number of seconds, got "${flags.duration}"`);
      const seed = Number(flags.seed);
      if (!Number.isInteger(seed)) throw new CliError(`--seed: expected an integer, got "${flags.seed}"`);
      const stop = stopSignal(io.signal);
      try {
        io.stdout(`Vigil demo against ${url} for ${seconds} s (Ctrl-C stops it). Open ${url}/ to watch.\n`);
        const s = await runDemo({ url, apiKey, durationMs: seconds * 1000, budget: flags.budget, seed, io, signal: stop.signal });
        io.stdout(
          `Done: ${s.events} events stored${s.refused > 0 ? `, ${s.refused} refused` : ''}, ${s.costUsd.toFixed(2)} USD of simulated model calls, ${s.checks} intervention checks.\n` +
            `See the interventions at ${url}/#/interventions\n`,
        );
      } finally {
        stop.dispose();
      }
    });
}
