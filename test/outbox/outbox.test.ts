/** The outbox against real local provider peers: retries, Retry-After, dead, fallback, leases, two workers. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Channel, Notification, SendResult } from '../../src/channels/channel.js';
import { DiscordChannel } from '../../src/channels/discord.js';
import { HttpClient } from '../../src/channels/http.js';
import { SlackChannel } from '../../src/channels/slack.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { generateWebhookSecret, WebhookChannel } from '../../src/channels/webhook.js';
import { uuidv7 } from '../../src/events/uuid7.js';
import type { Delivery } from '../../src/interventions/deliveries.js';
import { StaticDirectory, type NamedTarget } from '../../src/outbox/directory.js';
import { OutboxRecorder } from '../../src/outbox/recorder.js';
import { attemptsOf, claimDue, completeAttempts, listDeliveries, type Completion } from '../../src/outbox/sql.js';
import { OutboxWorker } from '../../src/outbox/worker.js';
import { PostgresStore } from '../../src/store/postgres.js';
import type { Queryable, QueryOptions, Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/util/clock.js';
import { BACKENDS, openHandles, openTestStore, PG_SKIP } from '../helpers/stores.js';
import { discordRateLimited, discordUnknownWebhook, startDiscordPeer } from '../helpers/peers/discord.js';
import { startSlackPeer } from '../helpers/peers/slack.js';
import { startWebhookReceiver } from '../helpers/peers/webhook.js';
import type { HttpPeer } from '../helpers/peers/httpPeer.js';

const silent = pino({ level: 'silent' });

function notification(level: Notification['level'] = 'URGENT'): Notification {
  return {
    delivery_id: '',
    intervention_id: uuidv7(),
    task_id: 'task_42',
    level,
    title: 'Intervention Required for Task task_42',
    message: 'Task task_42 failed 3 times',
    reasons: ['ERROR_THRESHOLD'],
    context: { errors: 3 },
    timestamp: new Date().toISOString(),
    action_url: null,
  };
}

function delivery(channel: string, route = 'default'): Delivery {
  const n = notification();
  return { id: uuidv7(), intervention_id: n.intervention_id, channel, route, why: 'first_time', notification: n };
}

interface Peers {
  discord: HttpPeer & { hookUrl: string };
  slack: HttpPeer & { hookUrl: string };
  webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  secret: string;
  http: HttpClient;
}

async function startPeers(): Promise<Peers> {
  const secret = generateWebhookSecret();
  return {
    discord: await startDiscordPeer(),
    slack: await startSlackPeer(),
    webhook: await startWebhookReceiver(secret),
    secret,
    http: new HttpClient({ guard: new UrlGuard({ allow: ['127.0.0.1'] }) }),
  };
}

function directory(p: Peers, fallbacks: Record<string, string> = {}, maxAttempts: Record<string, number> = {}): StaticDirectory {
  const deps = { http: p.http };
  const channels = new Map<string, Channel>([
    ['discord', new DiscordChannel({}, deps)],
    ['slack', new SlackChannel({}, deps)],
    ['webhook', new WebhookChannel({ secret: p.secret }, deps)],
  ]);
  const targets = new Map<string, NamedTarget[]>([
    ['discord', [{ channel: 'discord', name: 'ops', address: p.discord.hookUrl }]],
    ['slack', [{ channel: 'slack', name: 'ops', address: p.slack.hookUrl }]],
    ['webhook', [{ channel: 'webhook', name: 'audit', address: `${p.webhook.url}/hook` }]],
  ]);
  return new StaticDirectory(channels, targets, { fallbacks, maxAttempts });
}

async function record(store: Store, recorder: OutboxRecorder, ds: Delivery[]): Promise<void> {
  await store.transaction((tx) => recorder.record(tx, ds));
}

for (const backend of BACKENDS) {
  describe(`outbox on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    let peers: Peers;
    before(async () => {
      env = await backend.setup();
      store = await openTestStore(env);
      peers = await startPeers();
    });
    after(async () => {
      await peers.http.close();
      await Promise.all([peers.discord.close(), peers.slack.close(), peers.webhook.close()]);
      await store.close();
      await env.cleanup();
      assert.deepEqual(openHandles(), []);
    });

    it('retries a 429 after the provider\'s retry_after, keeps every attempt, and sends once', async () => {
      const clock = new ManualClock(Date.parse('2026-03-01T10:00:00Z'));
      const dir = directory(peers);
      const recorder = new OutboxRecorder(dir, clock);
      const worker = new OutboxWorker({ store, directory: dir, log: silent, clock, random: () => 0.5 });
      const d = delivery('discord');
      peers.discord.reset();
      peers.discord.script(discordRateLimited(2.5));
      await record(store, recorder, [d]);

      assert.equal(await worker.runOnce(), 1);
      let [row] = await listDeliveries(store, { intervention_id: d.intervention_id, limit: 10 });
      assert.equal(row.status, 'pending');
      assert.equal(new Date(row.next_attempt_at).getTime(), clock.now() + 2500, 'waits exactly retry_after');
      assert.equal(await worker.runOnce(), 0, 'not due before retry_after has passed');

      clock.advance(2500);
      assert.equal(await worker.runOnce(), 1);
      [row] = await listDeliveries(store, { intervention_id: d.intervention_id, limit: 10 });
      assert.equal(row.status, 'sent');
      assert.equal(peers.discord.received.length, 2);
      const attempts = await attemptsOf(store, [d.id]);
      assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.provider_status]), [[1, 'retryable', '429'], [2, 'ok', '200']]);
      assert.ok(attempts.every((a) => a.duration_ms >= 0 && a.worker === worker.id));
      await worker.close();
    });


    it('looks for each retry it scheduled when the retry is due, not at its next poll', async () => {
      const dir = directory(peers);
      const recorder = new OutboxRecorder(dir, { now: () => Date.now() });
      // A poll interval far beyond the test's patience: only the retries' own due times can send them in time.
      const worker = new OutboxWorker({ store, directory: dir, log: silent, pollIntervalMs: 600_000 });
      const ds = [delivery('discord'), delivery('discord')];
      peers.discord.reset();
      // Both claimed at once; one is asked to wait 0.3 s, the other 0.8 s: two due times, one after the other.
      peers.discord.script(discordRateLimited(0.3), discordRateLimited(0.8));
      await record(store, recorder, ds);
      worker.start();
      try {
        const deadline = Date.now() + 10_000;
        while (peers.discord.received.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(peers.discord.received.length, 4, 'both retries were sent within 10 s, with the next poll 10 minutes away');
      } finally {
        await worker.close();
      }
      const gaps = [];
      for (const d of ds) {
        const [row] = await listDeliveries(store, { intervention_id: d.intervention_id, limit: 10 });
        assert.equal(row.status, 'sent');
        const attempts = await attemptsOf(store, [d.id]);
        assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome]), [[1, 'retryable'], [2, 'ok']]);
        gaps.push(new Date(attempts[1].started_at).getTime() - new Date(attempts[0].started_at).getTime());
      }
      gaps.sort((a, b) => a - b);
      assert.ok(gaps[0] >= 300 && gaps[1] >= 800, `each retry waited its provider's retry_after, 300 and 800 ms (they came after ${gaps.join(' and ')} ms)`);
    });
    it('stops at once on a permanent failure and falls back to the route\'s fallback channel', async () => {
      const clock = new ManualClock();
      const dir = directory(peers, { 'budget:discord': 'slack' });
      const recorder = new OutboxRecorder(dir, clock);
      const gone: string[] = [];
      const worker = new OutboxWorker({ store, directory: dir, log: silent, clock, onTargetGone: (c, t) => void gone.push(`${c}/${t.name}`) });
      const d = delivery('discord', 'budget');
      peers.discord.reset();
      peers.slack.reset();
      peers.discord.script(discordUnknownWebhook());
      await record(store, recorder, [d]);
      await worker.runOnce();
      const rows = await listDeliveries(store, { intervention_id: d.intervention_id, limit: 10 });
      const primary = rows.find((r) => r.id === d.id)!;
      assert.equal(primary.status, 'dead');
      assert.equal(primary.attempts, 1, 'a 404 is not retried');
      assert.match(primary.last_error ?? '', /deleted/);
      assert.doesNotMatch(primary.last_error ?? '', /dIsCoRdSeCrEtToKeN/, 'the webhook token never appears in errors');
      assert.deepEqual(gone, ['discord/ops']);
      const fb = rows.find((r) => r.fallback_of === d.id)!;
      assert.equal(fb.channel, 'slack');
      await worker.runOnce();
      const [sent] = await listDeliveries(store, { intervention_id: d.intervention_id, channel: 'slack', limit: 10 });
      assert.equal(sent.status, 'sent');
      assert.equal(peers.slack.received.length, 1);
      await worker.close();
    });

    it('makes a delivery dead after its last attempt, and records a channel without targets as dead', async () => {
      const clock = new ManualClock();
      const dir = directory(peers, {}, { discord: 3 });
      const recorder = new OutboxRecorder(dir, clock);
      const unhealthy: string[] = [];
      const worker = new OutboxWorker({ store, directory: dir, log: silent, clock, unhealthyAfter: 3, onChannelUnhealthy: (c) => void unhealthy.push(c) });
      const d = delivery('discord');
      const none = delivery('sms');
      peers.discord.reset();
      peers.discord.script({ status: 500 }, { status: 502 }, { status: 503 });
      await record(store, recorder, [d, none]);
      for (let i = 0; i < 3; i++) {
        await worker.runOnce();
        clock.advance(60 * 60_000);
      }
      const rows = await listDeliveries(store, { intervention_id: d.intervention_id, limit: 10 });
      assert.equal(rows[0].status, 'dead');
      assert.equal(rows[0].attempts, 3);
      assert.deepEqual(unhealthy, ['discord'], 'a channel that keeps failing is reported once');
      const [noTarget] = await listDeliveries(store, { intervention_id: none.intervention_id, limit: 10 });
      assert.equal(noTarget.status, 'dead');
      assert.match(noTarget.last_error ?? '', /channel sms is not configured/);
      await worker.close();
    });

    it('reclaims a delivery whose worker died after its lease ran out', async () => {
      const clock = new ManualClock();
      const dir = directory(peers);
      const recorder = new OutboxRecorder(dir, clock);
      const d = delivery('webhook');
      peers.webhook.reset();
      await record(store, recorder, [d]);
      // A worker claims it and dies without sending.
      const claimed = await claimDue(store, { worker: 'dead-worker', limit: 10, nowMs: clock.now(), leaseMs: 60_000, skipChannels: [] });
      assert.equal(claimed.length, 1);
      const worker = new OutboxWorker({ store, directory: dir, log: silent, clock });
      assert.equal(await worker.runOnce(), 0, 'leased to another worker');
      clock.advance(60_001);
      assert.equal(await worker.runOnce(), 1);
      assert.equal(peers.webhook.verified.length, 1);
      assert.equal(peers.webhook.verified[0].ok, true);
      assert.equal(peers.webhook.received[0].headers['webhook-id'], d.id, 'the delivery id is the idempotency key');
      await worker.close();
    });

    it('records an attempt only with its lease: a worker whose lease was taken over records nothing', async () => {
      const clock = new ManualClock(Date.parse('2026-05-01T00:00:00Z'));
      const dir = directory(peers);
      const d = delivery('webhook');
      await record(store, new OutboxRecorder(dir, clock), [d]);
      const [row] = await claimDue(store, { worker: 'second', limit: 10, nowMs: clock.now(), leaseMs: 60_000, skipChannels: [] });
      const done: Completion = {
        id: row.id,
        attempt: row.attempts,
        status: 'sent',
        next_attempt_at: clock.now(),
        started_at: clock.now(),
        duration_ms: 3,
        outcome: 'ok',
        provider_status: '200',
        error: null,
      };
      assert.deepEqual([...(await completeAttempts(store, 'first', [done], clock.now()))], [], 'not leased to this worker');
      assert.deepEqual(await attemptsOf(store, [d.id]), []);
      assert.deepEqual([...(await completeAttempts(store, 'second', [done], clock.now()))], [d.id]);
      const attempts = await attemptsOf(store, [d.id]);
      assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.provider_status, a.duration_ms, a.worker]), [[1, 'ok', '200', 3, 'second']]);
      const [sent] = await listDeliveries(store, { intervention_id: d.intervention_id, limit: 1 });
      assert.equal(sent.status, 'sent');
    });

    it('records an attempt whose provider error holds half a surrogate pair or a NUL, as U+FFFD', async () => {
      const clock = new ManualClock(Date.parse('2026-05-01T00:00:00Z'));
      const d = delivery('webhook');
      await record(store, new OutboxRecorder(directory(peers), clock), [d]);
      const [row] = await claimDue(store, { worker: 'w', limit: 10, nowMs: clock.now(), leaseMs: 60_000, skipChannels: [] });
      // An answer cut inside an emoji, with a NUL from a binary body: text PostgreSQL refuses as is.
      const done: Completion = {
        id: row.id,
        attempt: row.attempts,
        status: 'pending',
        next_attempt_at: clock.now() + 1_000,
        started_at: clock.now(),
        duration_ms: 2,
        outcome: 'retryable',
        provider_status: '502\u0000',
        error: 'HTTP 502: upstream \u{1F525}\uD83D',
      };
      assert.deepEqual([...(await completeAttempts(store, 'w', [done], clock.now()))], [d.id], 'recorded, not refused');
      const [attempt] = await attemptsOf(store, [d.id]);
      assert.equal(attempt.error, 'HTTP 502: upstream \u{1F525}\uFFFD');
      assert.equal(attempt.provider_status, '502\uFFFD');
      const [after] = await listDeliveries(store, { intervention_id: d.intervention_id, limit: 1 });
      assert.equal(after.last_error, 'HTTP 502: upstream \u{1F525}\uFFFD');
      assert.equal(after.status, 'pending');
    });

    it('plans a claim as a walk of the due index, and a record without the index of sending rows, with no statistics yet', async () => {
      // A backlog on a table never analysed (DUE_SCAN in sql.ts): the plans are read, not run.
      const plans: string[] = [];
      const explain: Queryable = {
        exec: (sql) => store.exec(sql),
        query: async <R,>(sql: string, params?: readonly unknown[]) => {
          const { rows } = await store.query<Record<string, unknown>>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
          const plan = rows[0]['QUERY PLAN'];
          plans.push(typeof plan === 'string' ? plan : JSON.stringify(plan));
          return { rows: [] as R[], rowCount: 0 };
        },
      };
      const far = Date.parse('2100-01-01T00:00:00Z');
      const ids = Array.from({ length: 10_000 }, () => uuidv7());
      await store.query(
        `INSERT INTO deliveries (id, channel, target, level, notification, max_attempts, next_attempt_at, created_at)
         SELECT id, 'discord', 'ops', 'INFO', '{}'::jsonb, 3, $2, $2 FROM unnest($1::uuid[]) AS u(id)`,
        [ids, new Date(far).toISOString()],
      );
      try {
        await claimDue(explain, { worker: 'w', limit: 64, nowMs: far, leaseMs: 60_000, skipChannels: [], perChannel: 32 });
        const done = ids.slice(0, 64).map((id): Completion => ({ id, attempt: 1, status: 'sent', next_attempt_at: far, started_at: far, duration_ms: 1, outcome: 'ok', provider_status: '204', error: null }));
        await completeAttempts(explain, 'w', done, far);
      } finally {
        await store.query(`DELETE FROM deliveries WHERE id = ANY ($1::uuid[])`, [ids]);
      }
      const [claim, complete] = plans.map((p) => JSON.parse(p) as unknown);
      const nodes = (plan: unknown): Record<string, unknown>[] => {
        const out: Record<string, unknown>[] = [];
        const walk = (n: unknown): void => {
          if (Array.isArray(n)) n.forEach(walk);
          else if (n && typeof n === 'object') {
            const o = n as Record<string, unknown>;
            if (typeof o['Node Type'] === 'string') out.push(o);
            Object.values(o).forEach(walk);
          }
        };
        walk(plan);
        return out;
      };
      const due = nodes(claim).find((n) => n['Subplan Name'] === 'CTE due');
      assert.ok(due, 'the due CTE');
      const scans = nodes(due).filter((n) => n['Relation Name'] === 'deliveries');
      assert.deepEqual(scans.map((n) => [n['Node Type'], n['Index Name']]), [['Index Scan', 'deliveries_due_idx']], JSON.stringify(due));
      assert.ok(!nodes(due).some((n) => n['Node Type'] === 'Sort'), 'no sort of the due rows');
      // A record finds its rows by key (or, on a table this small, may read it whole), never through
      // the partial index of 'sending' rows, whose entries of every past version it would read.
      const updated = nodes(complete).filter((n) => n['Relation Name'] === 'deliveries' && n['Node Type'] !== 'ModifyTable');
      assert.equal(updated.length, 1, JSON.stringify(complete));
      assert.ok([undefined, 'deliveries_pkey'].includes(updated[0]['Index Name'] as string | undefined), JSON.stringify(complete));
    });

    it('records attempts that finish together in one statement, and does not hold one back for a send that hangs', async () => {
      const clock = new ManualClock();
      // A channel that answers when the test says so, each send by its delivery id (a claim returns
      // its rows in no set order).
      const answers: ((r: SendResult) => void)[] = [];
      const answerOf = new Map<string, (r: SendResult) => void>();
      const held: Channel = {
        name: 'held',
        send: (n) =>
          new Promise<SendResult>((resolve) => {
            answers.push(resolve);
            answerOf.set(n.delivery_id, resolve);
          }),
        mask: () => '****',
      };
      const dir = new StaticDirectory(new Map([['held', held]]), new Map([['held', [{ channel: 'held', name: 'ops', address: 'held://ops' }]]]));
      const recorder = new OutboxRecorder(dir, clock);
      const writes: number[] = []; // attempts recorded per statement, in or out of a transaction
      const counting = (db: Queryable): Queryable => ({
        query: <R>(sql: string, params?: readonly unknown[], options?: QueryOptions) => {
          if (sql.includes('INSERT INTO delivery_attempts')) writes.push((JSON.parse(params![0] as string) as unknown[]).length);
          return db.query<R>(sql, params, options);
        },
        exec: (sql) => db.exec(sql),
      });
      const counted: Store = {
        ...counting(store),
        kind: store.kind,
        description: store.description,
        transaction: (fn) => store.transaction((tx) => fn({ ...counting(tx), copyIn: (table, columns, data) => tx.copyIn(table, columns, data) })),
        copyIn: (table, columns, data) => store.copyIn(table, columns, data),
        close: async () => undefined,
      };
      const worker = new OutboxWorker({ store: counted, directory: dir, log: silent, clock });
      const sendsStarted = async (n: number) => {
        while (answers.length < n) await new Promise((r) => setTimeout(r, 5));
      };
      const ok: SendResult = { outcome: 'ok', status: 200, durationMs: 1 };

      await record(store, recorder, [delivery('held'), delivery('held'), delivery('held')]);
      const first = worker.runOnce();
      await sendsStarted(3);
      for (const answer of answers) answer(ok);
      assert.equal(await first, 3);
      assert.deepEqual(writes, [3], 'three attempts that finished together, one statement');

      const [quick, slow] = [delivery('held'), delivery('held')];
      await record(store, recorder, [quick, slow]);
      const second = worker.runOnce();
      await sendsStarted(5);
      answerOf.get(quick.id)!(ok);
      for (let i = 0; ; i++) {
        const [row] = await listDeliveries(store, { intervention_id: quick.intervention_id, limit: 1 });
        if (row.status === 'sent') break;
        assert.ok(i < 200, 'the finished attempt is recorded while the other send still hangs');
        await new Promise((r) => setTimeout(r, 10));
      }
      answerOf.get(slow.id)!(ok);
      assert.equal(await second, 2);
      assert.deepEqual(writes, [3, 1, 1]);
      const [slowRow] = await listDeliveries(store, { intervention_id: slow.intervention_id, limit: 1 });
      assert.equal(slowRow.status, 'sent');
      await worker.close();
    });
  });
}

describe('the outbox on PostgreSQL', { skip: PG_SKIP }, () => {
  it('runs its claim and record as statements prepared once per connection', async () => {
    const env = await BACKENDS[1].setup();
    const migrated = await openTestStore(env);
    await migrated.close();
    // One connection, so the statements it prepared are the ones pg_prepared_statements lists.
    const store = new PostgresStore(env.databaseUrl!, { poolSize: 1 });
    const peers = await startPeers();
    try {
      const dir = directory(peers);
      const recorder = new OutboxRecorder(dir, { now: () => Date.now() });
      const prepared = async () =>
        (await store.query<{ name: string; statement: string }>(`SELECT name, statement FROM pg_prepared_statements ORDER BY name`)).rows;
      const worker = new OutboxWorker({ store, directory: dir, log: silent });
      await record(store, recorder, [delivery('webhook')]);
      assert.equal(await worker.runOnce(), 1);
      const first = await prepared();
      assert.equal(first.length, 2, JSON.stringify(first));
      assert.ok(first.some((p) => p.statement.includes('FOR UPDATE SKIP LOCKED')), 'the claim');
      assert.ok(first.some((p) => p.statement.includes('INSERT INTO delivery_attempts')), 'the record');
      await record(store, recorder, [delivery('webhook'), delivery('webhook')]);
      assert.equal(await worker.runOnce(), 2);
      assert.deepEqual(await prepared(), first, 'run again by name, not prepared anew');
      assert.equal(peers.webhook.verified.filter((v) => v.ok).length, 3);
      await worker.close();
    } finally {
      await peers.http.close();
      await Promise.all([peers.discord.close(), peers.slack.close(), peers.webhook.close()]);
      await store.close();
      await env.cleanup();
    }
  });
});

describe('two workers on one PostgreSQL', { skip: PG_SKIP }, () => {
  it('send every delivery exactly once', async () => {
    const env = await BACKENDS[1].setup();
    const store = await openTestStore(env);
    const peers = await startPeers();
    try {
      const dir = directory(peers);
      const recorder = new OutboxRecorder(dir, { now: () => Date.now() });
      const ds = Array.from({ length: 400 }, () => delivery('webhook'));
      for (let i = 0; i < ds.length; i += 100) await record(store, recorder, ds.slice(i, i + 100));
      const storeB = await openTestStore(env);
      const a = new OutboxWorker({ store, directory: dir, log: silent, concurrency: 16, pollIntervalMs: 20 });
      const b = new OutboxWorker({ store: storeB, directory: dir, log: silent, concurrency: 16, pollIntervalMs: 20 });
      a.start();
      b.start();
      while (peers.webhook.received.length < ds.length) await new Promise((r) => setTimeout(r, 50));
      await Promise.all([a.close(), b.close()]);
      await storeB.close();
      const ids = peers.webhook.received.map((r) => String(r.headers['webhook-id']));
      assert.equal(ids.length, ds.length);
      assert.equal(new Set(ids).size, ds.length, 'no delivery sent twice');
      const sent = await store.query<{ n: number; workers: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT worker)::int AS workers FROM delivery_attempts WHERE outcome = 'ok'`,
      );
      assert.equal(sent.rows[0].n, ds.length);
      assert.equal(sent.rows[0].workers, 2, 'both workers took part');
    } finally {
      await peers.http.close();
      await Promise.all([peers.discord.close(), peers.slack.close(), peers.webhook.close()]);
      await store.close();
      await env.cleanup();
    }
  });
});
