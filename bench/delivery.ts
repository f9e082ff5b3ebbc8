/**
 * Delivery: 10,000 notifications through local Discord and Slack peers that answer 429 to one
 * request in ten, sent by two outbox workers on one PostgreSQL. Checks all are delivered and none
 * twice; prints throughput (of the whole run, and of the backlog's first attempts, apart from the
 * 429s' waits) and queue-to-send latency p50/p99 (first-attempt deliveries, i.e. apart from
 * provider waits, and all deliveries). Target: ≥ 2,000 deliveries/s, p99 < 250 ms.
 *
 * As deployed: the peers run in a process of their own (providers are elsewhere), and each worker
 * in its own process (`vigil serve` and `vigil worker`, or two `vigil worker`). `--peers inline`
 * runs the peers in the bench's process; `--workers inline` runs both workers there, on one event
 * loop. The workers run as deployed: the default poll interval, woken by the NOTIFY of the
 * transaction that queues deliveries (each holds a relay's LISTEN) and by their own retries' due times.
 *
 *   node --import tsx bench/delivery.ts [--notifications 10000] [--peers process|inline]
 *        [--workers process|inline] [--database-url postgres://…]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
import { PgRelay } from '../src/http/stream/relay.js';
import type { PostgresStore } from '../src/store/postgres.js';
import { openStore, resolveStoreOptions } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { discordRateLimited, startDiscordPeer } from '../test/helpers/peers/discord.js';
import type { Reply } from '../test/helpers/peers/httpPeer.js';
import { slackRateLimited, startSlackPeer } from '../test/helpers/peers/slack.js';
import { machine } from './machine.js';

const { values } = parseArgs({
  options: {
    notifications: { type: 'string', default: '10000' },
    peers: { type: 'string', default: 'process' },
    workers: { type: 'string', default: 'process' },
    'database-url': { type: 'string', default: process.env.VIGIL_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    // The bench's own child processes.
    'serve-peers': { type: 'boolean', default: false },
    'serve-worker': { type: 'string' },
  },
});
for (const opt of ['peers', 'workers'] as const) {
  if (values[opt] !== 'process' && values[opt] !== 'inline') throw new Error(`--${opt} must be process or inline, not ${values[opt]}`);
}

/** What a child process says to the bench. */
type ChildMessage = { ready: { discord: string; slack: string } | true } | { requests: number } | { ok: number };

/** A child process running this file in one of its serving modes, spoken to over IPC. */
class Child {
  private readonly proc: ChildProcess;
  private readonly waiting: { resolve: (m: ChildMessage) => void; reject: (err: Error) => void }[] = [];
  private exited: Error | null = null;

  constructor(args: string[]) {
    this.proc = fork(process.argv[1]!, args, { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m) => this.waiting.shift()?.resolve(m as ChildMessage));
    this.proc.on('exit', (code) => {
      // A child that failed (its error is on stderr) fails the bench rather than leave it waiting.
      this.exited = new Error(`a bench child process (${args[0]}) exited with code ${code}`);
      for (const w of this.waiting.splice(0)) w.reject(this.exited);
    });
  }

  /** Sends `what` (if any) and resolves with the child's next message. */
  ask(what?: string): Promise<ChildMessage> {
    if (this.exited) return Promise.reject(this.exited);
    const answer = new Promise<ChildMessage>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (what) this.proc.send(what);
    return answer;
  }

  close(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.proc.once('exit', () => resolve());
      this.proc.send('close');
    });
  }
}

/** Serves `answer` to the parent's questions until it says close, then runs `close` and exits. */
async function serveChild(ready: ChildMessage, answer: (q: string) => Promise<ChildMessage | void>, close: () => Promise<void>): Promise<never> {
  process.on('message', (q: string) => {
    if (q === 'close') void close().then(() => process.exit(0));
    else void answer(q).then((m) => m && process.send!(m));
  });
  process.send!(ready);
  return new Promise<never>(() => {});
}

/** The two peers, wherever they run: their hook URLs, how many requests they answered, and closing. */
interface Peers {
  discordUrl: string;
  slackUrl: string;
  requests(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts the Discord and Slack peers in this process. One request in ten answers 429 (short waits:
 * the figure is about Vigil, not the provider). Each scripted answer scripts the next: a queue of 3N
 * answers made up front cost the peers a shift of the whole queue per request (~30 µs at N = 10,000,
 * growing with N). The peers count requests rather than keep them (kept, they cost GC).
 */
async function startPeers(): Promise<Peers> {
  const discord = await startDiscordPeer({ keepReceived: false });
  const slack = await startSlackPeer({ keepReceived: false });
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
  return {
    discordUrl: discord.hookUrl,
    slackUrl: slack.hookUrl,
    requests: async () => discord.requests + slack.requests,
    close: async () => void (await Promise.all([discord.close(), slack.close()])),
  };
}

async function peersInChild(): Promise<Peers> {
  const child = new Child(['--serve-peers']);
  const first = await child.ask();
  if (!('ready' in first) || first.ready === true) throw new Error('the peers did not start');
  const { discord, slack } = first.ready;
  return {
    discordUrl: discord,
    slackUrl: slack,
    requests: async () => {
      const m = await child.ask('requests');
      return 'requests' in m ? m.requests : NaN;
    },
    close: () => child.close(),
  };
}

/** One outbox worker, wherever it runs: started, asked how many sends it has had ok, closed. */
interface Worker {
  start(): Promise<void>;
  ok(): Promise<number>;
  close(): Promise<void>;
}

const log = pino({ level: 'silent' });

/** The two channels, each with its one target at the peers (`http`: the client the channels send with). */
function peerDirectory(discordUrl: string, slackUrl: string, http?: HttpClient): StaticDirectory {
  return new StaticDirectory(
    new Map<string, Channel>([
      ['discord', new DiscordChannel({ wait: false }, { http })],
      ['slack', new SlackChannel({}, { http })],
    ]),
    new Map<string, NamedTarget[]>([
      ['discord', [{ channel: 'discord', name: 'ops', address: discordUrl }]],
      ['slack', [{ channel: 'slack', name: 'ops', address: slackUrl }]],
    ]),
  );
}

/**
 * A worker in this process, sending to the peers through the two channels, as deployed: the default
 * poll interval, woken by the recorder's NOTIFY through a relay's LISTEN like every process's.
 */
async function startWorker(store: Store, discordUrl: string, slackUrl: string): Promise<Worker> {
  const http = new HttpClient({ guard: new UrlGuard({ allow: ['127.0.0.1'] }) });
  const worker = new OutboxWorker({ store, directory: peerDirectory(discordUrl, slackUrl, http), log });
  const relay = new PgRelay(store as PostgresStore, log);
  relay.onOutboxDue(() => worker.wake());
  await relay.start(() => undefined);
  return {
    start: async () => worker.start(),
    ok: async () => [...worker.counters.values()].reduce((m, c) => m + c.ok, 0),
    close: async () => {
      await worker.close();
      await relay.close();
      await http.close();
    },
  };
}

async function workerInChild(databaseUrl: string, discordUrl: string, slackUrl: string): Promise<Worker> {
  const child = new Child(['--serve-worker', JSON.stringify({ databaseUrl, discordUrl, slackUrl })]);
  await child.ask();
  return {
    start: async () => void (await child.ask('start')),
    ok: async () => {
      const m = await child.ask('ok');
      return 'ok' in m ? m.ok : NaN;
    },
    close: () => child.close(),
  };
}

// The children: the peers, or one worker.
if (values['serve-peers']) {
  const peers = await startPeers();
  await serveChild(
    { ready: { discord: peers.discordUrl, slack: peers.slackUrl } },
    async (q) => (q === 'requests' ? { requests: await peers.requests() } : undefined),
    () => peers.close(),
  );
}
if (values['serve-worker']) {
  const { databaseUrl, discordUrl, slackUrl } = JSON.parse(values['serve-worker']) as Record<string, string>;
  const store = await openStore(resolveStoreOptions({ databaseUrl }), { migrate: false });
  const worker = await startWorker(store, discordUrl, slackUrl);
  await serveChild(
    { ready: true },
    async (q) => {
      if (q === 'start') await worker.start();
      return q === 'ok' ? { ok: await worker.ok() } : { ready: true };
    },
    async () => {
      await worker.close();
      await store.close();
    },
  );
}

const N = Number(values.notifications);
const DB = 'vigil_bench_delivery';

const admin = new pg.Client({ connectionString: values['database-url'] });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${DB}`);
const u = new URL(values['database-url']!);
u.pathname = '/' + DB;
const databaseUrl = u.toString();

const store = await openStore(resolveStoreOptions({ databaseUrl }), {});
const peers = values.peers === 'process' ? await peersInChild() : await startPeers();
const inlineStores: Store[] = [];
const workers: Worker[] = [];
for (let i = 0; i < 2; i++) {
  if (values.workers === 'process') workers.push(await workerInChild(databaseUrl, peers.discordUrl, peers.slackUrl));
  else {
    const s = await openStore(resolveStoreOptions({ databaseUrl }), { migrate: false });
    inlineStores.push(s);
    workers.push(await startWorker(s, peers.discordUrl, peers.slackUrl));
  }
}

// The recorder only needs to know the channels' targets and attempts; the bench's own directory.
const directory = peerDirectory(peers.discordUrl, peers.slackUrl);
const recorder = new OutboxRecorder(directory, { now: () => Date.now() }, undefined, { notify: true });

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
  await store.transaction((tx) => recorder.record(tx, batch));
}
// Whether every queued delivery is sent: looks for one unsent row (a count(*) of the sent rows read
// all of them each time).
async function allSent(): Promise<boolean> {
  const { rows } = await store.query<{ done: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending', 'dead')) AS done`);
  return rows[0].done;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * Waits until `total` deliveries are sent. The workers' own counters say when every one has had its
 * ok answer; only then is PostgreSQL asked, until it has them all recorded. Asked every 20 ms from
 * the start, PostgreSQL answered ~280 times per backlog, taking its time from the workers. The
 * counters are asked every 20 ms: every 5 ms, the questions over IPC took ~3 % of a worker
 * process's CPU time (the figure loses at most 20 ms of a ~5 s run).
 */
async function drained(total: number, onOk?: (n: number) => void): Promise<void> {
  const ok = async () => (await Promise.all(workers.map((w) => w.ok()))).reduce((m, n) => m + n, 0);
  for (let n = await ok(); n < total; n = await ok()) {
    onOk?.(n);
    await sleep(20);
  }
  while (!(await allSent())) await sleep(5);
}

/**
 * CPU time (ms) used so far, by the machine (busy and all) and by process: the workers, the peers,
 * PostgreSQL (every backend), the bench; from /proc (Linux), null elsewhere.
 */
interface CpuSnapshot {
  at: number;
  busy: number;
  all: number;
  by: Map<string, number>;
}
const TICK_MS = 10; // USER_HZ is 100 on Linux
function cpuSnapshot(): CpuSnapshot | null {
  if (!existsSync('/proc/stat')) return null;
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = f.reduce((a, b) => a + b, 0);
  const by = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const who =
        comm === 'postgres' ? 'PostgreSQL' : comm !== 'node' ? null : cmd.includes('--serve-peers') ? 'peers' : cmd.includes('--serve-worker') ? 'workers' : Number(pid) === process.pid ? 'bench' : null;
      if (who) by.set(who, (by.get(who) ?? 0) + (Number(fields[11]) + Number(fields[12])) * TICK_MS);
    } catch {
      // The process ended meanwhile.
    }
  }
  return { at: Date.now(), busy: (all - f[3]! - f[4]!) * TICK_MS, all: all * TICK_MS, by };
}

// Phase 1, throughput: N notifications queued, then two workers drain them.
for (let i = 0; i < N; i += 500) await enqueue(i, Math.min(500, N - i));
// CPU is read at the start and when nine in ten are sent (before the tail of Retry-After waits).
const cpuFrom = cpuSnapshot();
let cpuTo: CpuSnapshot | null = null;
const start = performance.now();
const startedAt = Date.now();
await Promise.all(workers.map((w) => w.start()));
await drained(N, (n) => {
  if (!cpuTo && n >= N * 0.9) cpuTo = cpuSnapshot();
});
const seconds = (performance.now() - start) / 1000;
// Apart from provider waits: when the last of the backlog's first attempts ended (the rest of the
// run is the 429s' Retry-After waits and their retries).
const { rows: firsts } = await store.query<{ end_ms: number }>(
  `SELECT max(extract(epoch FROM started_at) * 1000 + duration_ms)::float8 AS end_ms FROM delivery_attempts WHERE attempt = 1`,
);
const firstSeconds = (firsts[0].end_ms - startedAt) / 1000;

// Attempts made while the CPU was measured, and what each cost.
let cpuLine = '';
if (cpuFrom && cpuTo) {
  const to: CpuSnapshot = cpuTo;
  const { rows } = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM delivery_attempts WHERE started_at < $1`, [new Date(to.at).toISOString()]);
  const attempts = rows[0]!.n;
  const per = (who: string) => Math.round((((to.by.get(who) ?? 0) - (cpuFrom.by.get(who) ?? 0)) * 1000) / attempts);
  // What runs inline is counted in the bench's process.
  const bench = ['bench', values.workers === 'inline' ? 'workers' : '', values.peers === 'inline' ? 'peers' : ''].filter(Boolean).join(' + ');
  const parts = [...(values.workers === 'process' ? ['workers'] : []), 'PostgreSQL', ...(values.peers === 'process' ? ['peers'] : [])];
  cpuLine =
    `  CPU per attempt while the backlog was sent (${attempts.toLocaleString('en-US')} attempts, machine ${Math.round((100 * (to.busy - cpuFrom.busy)) / (to.all - cpuFrom.all))} % busy), µs: ` +
    [...parts.map((p) => `${p} ${per(p)}`), `${bench} ${per('bench')}`].join(', ');
}

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
await Promise.all(workers.map((w) => w.close()));

const { rows: lat } = await store.query<{ first_p50: number; first_p99: number; all_p50: number; all_p99: number }>(
  `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE attempts = 1) AS first_p50,
          percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FILTER (WHERE attempts = 1) AS first_p99,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS all_p50,
          percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS all_p99
     FROM (SELECT attempts, extract(epoch FROM sent_at - created_at) * 1000 AS ms
             FROM deliveries ORDER BY seq OFFSET $1) t`,
  [N],
);
const { rows: check } = await store.query<{ sent: number; ok: number; attempts: number; distinct_ok: number }>(
  `SELECT (SELECT count(*) FROM deliveries WHERE status = 'sent')::int AS sent,
          (SELECT count(*) FROM delivery_attempts WHERE outcome = 'ok')::int AS ok,
          (SELECT count(DISTINCT delivery_id) FROM delivery_attempts WHERE outcome = 'ok')::int AS distinct_ok,
          (SELECT count(*) FROM delivery_attempts)::int AS attempts`,
);
const received = await peers.requests();
await peers.close();
await Promise.all([store, ...inlineStores].map((s) => s.close()));
await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await admin.end();

const c = check[0];
const l = lat[0];
const where = (opt: string, own: string) => (opt === 'process' ? own : "in the bench's process");
console.log(
  `delivery: ${N.toLocaleString('en-US')} notifications per phase, Discord and Slack peers answering 429 to one request in ten (${where(values.peers!, 'in a process of their own')}), two workers (${where(values.workers!, 'each in a process of its own')})`,
);
console.log(`  delivered ${c.sent} of ${2 * N}; ${c.ok} ok attempts for ${c.distinct_ok} deliveries (none twice: ${c.ok === c.distinct_ok && c.sent === 2 * N}); ${c.attempts} attempts, ${received} requests at the peers`);
console.log(`  throughput (backlog of ${N.toLocaleString('en-US')}): ${Math.round(N / seconds).toLocaleString('en-US')} deliveries/s (target ≥ 2,000)`);
console.log(`  first attempts of the backlog (apart from provider waits): all made in ${firstSeconds.toFixed(2)} s = ${Math.round(N / firstSeconds).toLocaleString('en-US')}/s; the rest of the ${seconds.toFixed(2)} s is Retry-After waits and retries`);
console.log(`  queue-to-send at 1,000/s, first attempt (apart from provider waits): p50 ${l.first_p50.toFixed(1)} ms, p99 ${l.first_p99.toFixed(1)} ms (target p99 < 250 ms)`);
console.log(`  queue-to-send at 1,000/s, all (incl. 429 waits): p50 ${l.all_p50.toFixed(1)} ms, p99 ${l.all_p99.toFixed(1)} ms`);
if (cpuLine) console.log(cpuLine);
console.log(`  machine: ${machine()}`);
