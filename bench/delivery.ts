/**
 * Delivery: 10,000 notifications through local Discord and Slack peers that answer 429 to one
 * request in ten, sent by two outbox workers on one PostgreSQL. Checks all are delivered and none
 * twice; prints throughput (of the whole run, and of the backlog's first attempts, apart from the
 * 429s' waits) and queue-to-send latency p50/p99 (first-attempt deliveries, i.e. apart from
 * provider waits, and all deliveries). Target: ≥ 2,000 deliveries/s, p99 < 250 ms.
 *
 *   node --import tsx bench/delivery.ts [--notifications 10000] [--database-url postgres://…]
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import type { Channel, Notification } from '../src/channels/channel.js';
import { DiscordChannel } from '../src/channels/discord.js';
import { HttpClient } from '../src/channels/http.js';
import { SlackChannel } from '../src/channels/slack.js';
import { UrlGuard } from '../src/channels/urlGuard.js';
import { uuidv7 } from '../src/events/uuid7.js';
import { StaticDirectory, type NamedTarget } from '../src/outbox/directory.js';
import { OutboxRecorder } from '../src/outbox/recorder.js';
import { OutboxWorker } from '../src/outbox/worker.js';
import { openStore, resolveStoreOptions } from '../src/store/open.js';
import { discordRateLimited, startDiscordPeer } from '../test/helpers/peers/discord.js';
import type { Reply } from '../test/helpers/peers/httpPeer.js';
import { slackRateLimited, startSlackPeer } from '../test/helpers/peers/slack.js';
import { machine } from './machine.js';

const { values } = parseArgs({
  options: {
    notifications: { type: 'string', default: '10000' },
    'database-url': { type: 'string', default: process.env.VIGIL_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const N = Number(values.notifications);
const DB = 'vigil_bench_delivery';

const admin = new pg.Client({ connectionString: values['database-url'] });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${DB}`);
const u = new URL(values['database-url']!);
u.pathname = '/' + DB;

// The peers count requests rather than keep them (kept, they cost the shared process's GC).
const discord = await startDiscordPeer({ keepReceived: false });
const slack = await startSlackPeer({ keepReceived: false });
// One request in ten answers 429 (short waits: the figure is about Vigil, not the provider). Each
// scripted answer scripts the next: a queue of 3N answers made up front cost the peers a shift of
// the whole queue per request (~30 µs at N = 10,000, growing with N) in the workers' process.
let dSeen = 0;
let sSeen = 0;
function discordAnswer(): Reply {
  discord.script(discordAnswer);
  return ++dSeen % 10 === 0 ? discordRateLimited(0.05, false, false) : { status: 204 };
}
function slackAnswer(): Reply {
  slack.script(slackAnswer);
  return ++sSeen % 10 === 0 ? slackRateLimited(1) : { status: 200, body: 'ok' };
}
discord.script(discordAnswer);
slack.script(slackAnswer);

const http = new HttpClient({ guard: new UrlGuard({ allow: ['127.0.0.1'] }) });
const channels = new Map<string, Channel>([
  ['discord', new DiscordChannel({ wait: false }, { http })],
  ['slack', new SlackChannel({}, { http })],
]);
const targets = new Map<string, NamedTarget[]>([
  ['discord', [{ channel: 'discord', name: 'ops', address: discord.hookUrl }]],
  ['slack', [{ channel: 'slack', name: 'ops', address: slack.hookUrl }]],
]);
const directory = new StaticDirectory(channels, targets);
const log = pino({ level: 'silent' });
const storeA = await openStore(resolveStoreOptions({ databaseUrl: u.toString() }), {});
const storeB = await openStore(resolveStoreOptions({ databaseUrl: u.toString() }), { migrate: false });
const recorder = new OutboxRecorder(directory, { now: () => Date.now() });

const notification = (i: number): Notification => ({
  delivery_id: '',
  intervention_id: uuidv7(),
  task_id: `task_${i}`,
  level: 'URGENT',
  title: `Intervention Required for Task task_${i}`,
  message: 'Task failed 3 times',
  reasons: ['ERROR_THRESHOLD'],
  context: {},
  timestamp: new Date().toISOString(),
  action_url: null,
});
async function enqueue(from: number, count: number): Promise<void> {
  const batch = Array.from({ length: count }, (_, k) => {
    const n = notification(from + k);
    return { id: uuidv7(), intervention_id: n.intervention_id, channel: (from + k) % 2 ? 'slack' : 'discord', route: 'bench', why: 'first_time' as const, notification: n };
  });
  await storeA.transaction((tx) => recorder.record(tx, batch));
}
// Whether every queued delivery is sent: looks for one unsent row (a count(*) of the sent rows read
// all of them each time).
async function allSent(): Promise<boolean> {
  const { rows } = await storeA.query<{ done: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending', 'dead')) AS done`);
  return rows[0].done;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * Waits until `total` deliveries are sent. The workers' own counters say when every one has had its
 * ok answer; only then is PostgreSQL asked, until it has them all recorded. Asked every 20 ms from
 * the start, PostgreSQL answered ~280 times per backlog, taking its time from the workers.
 */
async function drained(total: number): Promise<void> {
  const ok = () => [a, b].reduce((n, w) => n + [...w.counters.values()].reduce((m, c) => m + c.ok, 0), 0);
  while (ok() < total) await sleep(5);
  while (!(await allSent())) await sleep(5);
}

const a = new OutboxWorker({ store: storeA, directory, log, pollIntervalMs: 10 });
const b = new OutboxWorker({ store: storeB, directory, log, pollIntervalMs: 10 });

// Phase 1, throughput: N notifications queued, then two workers drain them.
for (let i = 0; i < N; i += 500) await enqueue(i, Math.min(500, N - i));
const start = performance.now();
const startedAt = Date.now();
a.start();
b.start();
await drained(N);
const seconds = (performance.now() - start) / 1000;
// Apart from provider waits: when the last of the backlog's first attempts ended (the rest of the
// run is the 429s' Retry-After waits and their retries).
const { rows: firsts } = await storeA.query<{ end_ms: number }>(
  `SELECT max(extract(epoch FROM started_at) * 1000 + duration_ms)::float8 AS end_ms FROM delivery_attempts WHERE attempt = 1`,
);
const firstSeconds = (firsts[0].end_ms - startedAt) / 1000;

// Phase 2, latency: N more at a steady 1,000 per second while the workers run; queue-to-send is
// sent_at - created_at. "Apart from provider waits": deliveries sent at their first attempt.
const RATE_CHUNK = 20;
const phase2 = performance.now();
for (let i = 0; i < N; i += RATE_CHUNK) {
  await enqueue(N + i, Math.min(RATE_CHUNK, N - i));
  const due = phase2 + ((i + RATE_CHUNK) / 1000) * 1000;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
}
await drained(2 * N);
await Promise.all([a.close(), b.close()]);

const { rows: lat } = await storeA.query<{ first_p50: number; first_p99: number; all_p50: number; all_p99: number }>(
  `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE attempts = 1) AS first_p50,
          percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FILTER (WHERE attempts = 1) AS first_p99,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS all_p50,
          percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS all_p99
     FROM (SELECT attempts, extract(epoch FROM sent_at - created_at) * 1000 AS ms
             FROM deliveries ORDER BY seq OFFSET $1) t`,
  [N],
);
const { rows: check } = await storeA.query<{ sent: number; ok: number; attempts: number; distinct_ok: number }>(
  `SELECT (SELECT count(*) FROM deliveries WHERE status = 'sent')::int AS sent,
          (SELECT count(*) FROM delivery_attempts WHERE outcome = 'ok')::int AS ok,
          (SELECT count(DISTINCT delivery_id) FROM delivery_attempts WHERE outcome = 'ok')::int AS distinct_ok,
          (SELECT count(*) FROM delivery_attempts)::int AS attempts`,
);
const received = discord.requests + slack.requests;
await http.close();
await Promise.all([discord.close(), slack.close()]);
await storeA.close();
await storeB.close();
await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await admin.end();

const c = check[0];
const l = lat[0];
console.log(`delivery: ${N.toLocaleString('en-US')} notifications per phase, Discord and Slack peers answering 429 to one request in ten, two workers`);
console.log(`  delivered ${c.sent} of ${2 * N}; ${c.ok} ok attempts for ${c.distinct_ok} deliveries (none twice: ${c.ok === c.distinct_ok && c.sent === 2 * N}); ${c.attempts} attempts, ${received} requests at the peers`);
console.log(`  throughput (backlog of ${N.toLocaleString('en-US')}): ${Math.round(N / seconds).toLocaleString('en-US')} deliveries/s (target ≥ 2,000)`);
console.log(`  first attempts of the backlog (apart from provider waits): all made in ${firstSeconds.toFixed(2)} s = ${Math.round(N / firstSeconds).toLocaleString('en-US')}/s; the rest of the ${seconds.toFixed(2)} s is Retry-After waits and retries`);
console.log(`  queue-to-send at 1,000/s, first attempt (apart from provider waits): p50 ${l.first_p50.toFixed(1)} ms, p99 ${l.first_p99.toFixed(1)} ms (target p99 < 250 ms)`);
console.log(`  queue-to-send at 1,000/s, all (incl. 429 waits): p50 ${l.all_p50.toFixed(1)} ms, p99 ${l.all_p99.toFixed(1)} ms`);
console.log(`  machine: ${machine()}`);
