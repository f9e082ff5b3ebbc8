/**
 * Proofs under failure (issue 7), each against real processes, databases and peers:
 *
 * 1. `vigil serve` SIGKILLed during ingest from concurrent clients: every acknowledged event is
 *    stored exactly once; after a restart, clients re-sending what got no answer store nothing twice.
 * 2. PostgreSQL unreachable for 30 s while an in-process SDK and a remote SDK (through a
 *    `vigil serve`) keep logging: no event lost, none stored twice.
 * 3. Two `vigil serve` and two `vigil worker` on one PostgreSQL: events posted to both servers are
 *    stored once, and every delivery of the interventions they raise is sent exactly once.
 * 4. A provider that accepts connections and never answers: its deliveries time out and are
 *    retried (attempts recorded with the timeout), while another channel's go out at once; a
 *    backlog of its deliveries due first takes no more than its per-channel share of the slots.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { createAuditLogger } from '../../src/index.js';
import { BACKENDS, createDatabase, dropDatabase, openTestStore, PG_SKIP, tempDir } from '../helpers/stores.js';
import { TcpProxy } from '../helpers/proxy.js';
import { http, remainingHandles } from '../http/harness.js';
import { startServe, vigil, type CliResult, type ServeChild } from '../cli/cli.js';
import { startSlackPeer } from '../helpers/peers/slack.js';
import { startWebhookReceiver } from '../helpers/peers/webhook.js';
import { startTestServer, until, writeConfig } from '../outbox/serverFixture.js';
import { generateWebhookSecret } from '../../src/channels/webhook.js';
import { RETRY_AFTER_SECONDS } from '../../src/http/errors.js';
import {
  assertEachOnce,
  createdBatch,
  deliverySections,
  failed,
  HangingPeer,
  ingestUntilGone,
  sleep,
  startWorker,
  stopChild,
  storedCounts,
  type Batch,
  type WorkerChild,
} from './proofs-procs.js';

const silent = pino({ level: 'silent' });
const idsOf = (batches: Batch[]): string[] => batches.flatMap((b) => b.map((e) => e.id as string));

for (const backend of BACKENDS) {
  describe(`proof: vigil serve killed (SIGKILL) during ingest, on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    before(async () => {
      env = await backend.setup();
    });
    after(async () => {
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    it('stores every acknowledged event exactly once, and re-sent batches are not stored twice', async () => {
      const args = ['--data', env.dataDir, ...(env.databaseUrl ? ['--database-url', env.databaseUrl] : [])];
      const first = await startServe(args);
      const key = first.adminKey!;
      assert.ok(key, 'a first start prints an admin key');
      // Four clients post batches of 50; once enough are acknowledged the server is killed, with
      // the other clients' requests in flight.
      const killAfter = backend.name === 'postgres' ? 40 : 20;
      let outcome;
      try {
        outcome = await ingestUntilGone(first.url, key, {
          clients: 4,
          batchSize: 50,
          onAck: (n) => {
            if (n === killAfter) first.child.kill('SIGKILL');
          },
        });
      } finally {
        if (first.child.exitCode === null) first.child.kill('SIGKILL');
        await first.exited;
      }
      assert.equal(first.child.signalCode, 'SIGKILL');
      assert.ok(outcome.acked.length >= killAfter, `acknowledged ${outcome.acked.length} batches`);
      assert.equal(outcome.unanswered.length, 4, 'each client stopped at its first unanswered request');
      const acked = idsOf(outcome.acked);
      const unanswered = idsOf(outcome.unanswered);

      // Straight after the kill, on the database itself: every acknowledged event, once.
      let store = await openTestStore(env);
      try {
        assertEachOnce(await storedCounts(store, acked), acked, 'acknowledged events after SIGKILL');
        const maybe = await storedCounts(store, unanswered);
        assert.ok([...maybe.values()].every((n) => n === 1), 'an unanswered batch is stored at most once');
      } finally {
        await store.close();
      }

      // Restarted, the server takes the clients' retries: what got no answer, and acknowledged
      // batches again (a client that lost the answer cannot tell them apart).
      const second = await startServe(args);
      let secondExit: number | null | undefined;
      try {
        for (const batch of [...outcome.unanswered, ...outcome.acked.slice(0, 4)]) {
          const r = await http(`${second.url}/v1/events`, { key, json: { events: batch } });
          assert.equal(r.status, 200, r.text);
          assert.ok((r.body.results as { success: boolean }[]).every((x) => x.success));
        }
      } finally {
        second.child.kill('SIGTERM');
        secondExit = await second.exited;
      }
      assert.equal(secondExit, 0, second.stderr());

      store = await openTestStore(env);
      try {
        const all = [...acked, ...unanswered];
        assertEachOnce(await storedCounts(store, all), all, 'every event sent, after the retries');
        const { rows } = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM logs WHERE event_type = 'task_created'`);
        assert.equal(rows[0].n, all.length, 'nothing else was stored');
      } finally {
        await store.close();
      }
    });
  });
}

describe('proof: PostgreSQL unreachable for 30 s during SDK streams', { skip: PG_SKIP }, () => {
  it('the in-process SDK and the remote SDK (through vigil serve) lose nothing and store nothing twice', async () => {
    const url = await createDatabase();
    const proxy = TcpProxy.forUrl(url);
    await proxy.start();
    const dir = tempDir();
    const direct = new pg.Client({ connectionString: url });
    await direct.connect();
    const stored = async () => (await direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM logs WHERE event_type = 'task_created'`)).rows[0].n;
    // Both reach PostgreSQL only through the proxy: the server, and the in-process SDK. Batches are
    // sealed every 500 ms so the spool holds ~60 files per logger after 30 s (each replays in its
    // own commit).
    const streamOpts = { logLine: false, logger: silent, flushIntervalMs: 500 };
    const server = await startServe(['--data', join(dir, 'server'), '--database-url', proxy.url(url)]);
    const local = createAuditLogger({ databaseUrl: proxy.url(url), dataDir: join(dir, 'local'), ...streamOpts, postgres: { connectTimeoutMs: 500 } });
    const remote = createAuditLogger({ url: server.url, apiKey: server.adminKey!, spoolDir: join(dir, 'remote-spool'), ...streamOpts });
    const spooled = (d: string) => readdirSync(d).filter((f) => f.endsWith('.ndjson')).length;
    const ids = { local: [] as string[], remote: [] as string[] };
    // Both streams log 20 events every 100 ms, whatever happens to the database.
    let streaming = true;
    let exitCode: number | null | undefined;
    const stream = (async () => {
      for (let tick = 0; streaming; tick++) {
        for (const [name, logger] of [['local', local], ['remote', remote]] as const) {
          for (let i = 0; i < 20; i++) {
            const r = logger.logTaskCreated({ task_id: `${name}-${tick}-${i}`, task_type: 'outage', created_by: name });
            assert.equal(r.success, true, JSON.stringify(r));
            if (r.success) ids[name].push(r.id);
          }
        }
        await sleep(100);
      }
    })();
    try {
      await sleep(1_000);
      assert.equal(await local.flush(), true);
      assert.equal(await remote.flush(), true);
      const before = await stored();
      assert.ok(before >= 2 * 20 * 5, `${before} stored before the outage`);

      await proxy.cut();
      const cutAt = Date.now();
      await sleep(10_000);
      // Ten seconds in: both keep accepting, nothing reaches the database, the batches are on disk.
      assert.equal(await stored(), before, 'the database is really cut off');
      assert.equal(await local.flush({ timeoutMs: 200 }), false);
      assert.equal(await remote.flush({ timeoutMs: 200 }), false);
      assert.ok(local.stats().failing && remote.stats().failing);
      assert.ok(spooled(join(dir, 'local', 'spool')) > 0 && spooled(join(dir, 'remote-spool')) > 0, 'both spool to disk');
      assert.ok(ids.local.length > before / 2 + 20 * 20, 'the streams went on');
      const refused = await http(`${server.url}/v1/events`, { key: server.adminKey!, json: { events: createdBatch('cut', 2) } });
      assert.equal(refused.status, 503, 'the server acknowledges nothing it cannot commit');
      assert.equal(refused.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
      await sleep(30_000 - (Date.now() - cutAt));
      await proxy.restore();
      const outageMs = Date.now() - cutAt;
      assert.ok(outageMs >= 30_000 && outageMs < 35_000, `the outage lasted ${outageMs} ms`);
      assert.equal(server.child.exitCode, null, 'the server rode out the outage');

      await sleep(1_000);
      streaming = false;
      await stream;
      assert.equal(await local.flush({ timeoutMs: 30_000 }), true);
      assert.equal(await remote.flush({ timeoutMs: 30_000 }), true);
      assert.deepEqual([spooled(join(dir, 'local', 'spool')), spooled(join(dir, 'remote-spool'))], [0, 0], 'the spools are drained');

      for (const name of ['local', 'remote'] as const) {
        assertEachOnce(await storedCounts(direct, ids[name]), ids[name], `the ${name} stream`);
        const { rows } = await direct.query<{ id: string }>(`SELECT id::text FROM logs WHERE log_metadata->>'created_by' = $1 ORDER BY seq`, [name]);
        assert.deepEqual(rows.map((r) => r.id), ids[name], `the ${name} stream is stored in the order it was logged`);
      }
      assert.equal(await stored(), ids.local.length + ids.remote.length, 'nothing else was stored');
    } finally {
      streaming = false;
      await stream.catch(() => undefined);
      await Promise.all([local.close({ timeoutMs: 1_000 }), remote.close({ timeoutMs: 1_000 })]);
      server.child.kill('SIGTERM');
      exitCode = await server.exited;
      await direct.end();
      await proxy.close();
      await dropDatabase(url);
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(exitCode, 0, server.stderr());
    assert.deepEqual(await remainingHandles(), []);
  });
});

describe('proof: two vigil serve and two vigil worker on one PostgreSQL', { skip: PG_SKIP }, () => {
  it('stores each event posted to either server once, and sends every delivery exactly once', async () => {
    const env = await BACKENDS[1].setup();
    const secret = generateWebhookSecret();
    const webhook = await startWebhookReceiver(secret);
    const slack = await startSlackPeer();
    // Every process runs a worker with four send slots (the servers too): four workers compete.
    const path = writeConfig(env.dataDir, deliverySections({ webhookUrl: `${webhook.url}/hook`, secret, slackUrl: slack.hookUrl, worker: { concurrency: 4 } }));
    const dirs: string[] = [];
    const args = () => ['--config', path, '--data', dirs[dirs.push(tempDir()) - 1], '--database-url', env.databaseUrl!];
    const servers: ServeChild[] = [];
    const workers: WorkerChild[] = [];
    try {
      servers.push(await startServe(args()));
      const key = servers[0].adminKey!;
      const [b, w1, w2] = await Promise.all([startServe(args()), startWorker(args()), startWorker(args())]);
      servers.push(b);
      workers.push(w1, w2);

      // 30 tasks fail twice each, the two failures posted to different servers; two batches go
      // to both servers at once (a client retrying elsewhere); other events go to both as well.
      const TASKS = 30;
      const first = Array.from({ length: TASKS }, (_, i) => failed(`two-${i}`));
      const second = Array.from({ length: TASKS }, (_, i) => failed(`two-${i}`));
      const posts: { server: number; events: Batch; at: number }[] = [];
      for (let k = 0; k < TASKS / 5; k++) {
        posts.push({ server: k % 2, events: first.slice(k * 5, k * 5 + 5), at: k * 40 });
        posts.push({ server: (k + 1) % 2, events: second.slice(k * 5, k * 5 + 5), at: k * 40 + 20 });
        if (k < 2) posts.push({ server: k % 2, events: second.slice(k * 5, k * 5 + 5), at: k * 40 + 20 });
      }
      const noise = [createdBatch('two-a', 100), createdBatch('two-b', 100)];
      posts.push({ server: 0, events: noise[0], at: 0 }, { server: 1, events: noise[1], at: 0 });
      await Promise.all(
        posts.map(async (p) => {
          await sleep(p.at);
          const r = await http(`${servers[p.server].url}/v1/events`, { key, json: { events: p.events } });
          assert.equal(r.status, 200, r.text);
          assert.deepEqual((r.body.results as { id: string }[]).map((x) => x.id), p.events.map((e) => e.id));
        }),
      );

      const store = await openTestStore(env);
      try {
        const allIds = idsOf([first, second, ...noise]);
        assertEachOnce(await storedCounts(store, allIds), allIds, 'events posted to two servers');
        const { rows: byType } = await store.query<{ event_type: string; n: number }>(
          `SELECT event_type, count(*)::int AS n FROM logs WHERE event_type IN ('task_failed', 'task_created') GROUP BY 1 ORDER BY 1`,
        );
        assert.deepEqual(byType, [{ event_type: 'task_created', n: 200 }, { event_type: 'task_failed', n: 2 * TASKS }]);

        interface Row {
          id: string;
          intervention_id: string;
          channel: string;
          status: string;
          attempts: number;
        }
        const deliveries = await until(async () => {
          const { rows } = await store.query<Row>('SELECT id::text, intervention_id::text, channel, status, attempts FROM deliveries ORDER BY seq');
          return rows.length === 2 * TASKS && rows.every((d) => d.status === 'sent') ? rows : null;
        }, 'every delivery to be sent', 30_000);
        // Late duplicates, if any, would arrive now.
        await sleep(500);

        const { rows: interventions } = await store.query<{ id: string; task_id: string }>('SELECT id::text, task_id FROM interventions ORDER BY task_id');
        assert.equal(interventions.length, TASKS, 'one intervention per task, though four processes evaluate the rules');
        assert.equal(new Set(interventions.map((x) => x.task_id)).size, TASKS);
        assert.deepEqual(deliveries.map((d) => d.attempts), Array(2 * TASKS).fill(1), 'each delivery attempted once');

        const hookIds = deliveries.filter((d) => d.channel === 'webhook').map((d) => d.id);
        assert.equal(hookIds.length, TASKS);
        const received = webhook.received.map((r) => String(r.headers['webhook-id']));
        assert.equal(received.length, TASKS, 'the webhook peer got one request per delivery');
        assert.deepEqual([...received].sort(), [...hookIds].sort(), 'each webhook delivery id received exactly once');
        assert.ok(webhook.verified.every((v) => v.ok), 'every request signed');

        const perIntervention = slack.received.map((r) => /intervention ([0-9a-f-]{36})/.exec(r.body)?.[1]);
        assert.equal(perIntervention.length, TASKS, 'the Slack peer got one message per delivery');
        assert.deepEqual([...perIntervention].sort(), interventions.map((x) => x.id).sort(), 'each intervention messaged on Slack exactly once');

        const { rows: attempts } = await store.query<{ n: number; ok: number; workers: number }>(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE outcome = 'ok')::int AS ok, count(DISTINCT worker)::int AS workers FROM delivery_attempts`,
        );
        assert.deepEqual([attempts[0].n, attempts[0].ok], [2 * TASKS, 2 * TASKS]);
        assert.ok(attempts[0].workers >= 2, `${attempts[0].workers} workers sent: they competed`);
        const { rows: senders } = await store.query<{ worker: string }>('SELECT DISTINCT worker FROM delivery_attempts');
        const pids = workers.map((w) => `:${w.child.pid}:`);
        assert.ok(senders.some((s) => pids.some((p) => s.worker.includes(p))), 'the vigil worker processes took part');
      } finally {
        await store.close();
      }
      for (const p of [...servers, ...workers]) assert.equal(await stopChild(p.child, p.exited), 0, p.stderr());
    } finally {
      for (const p of [...servers, ...workers]) await stopChild(p.child, p.exited);
      await Promise.all([webhook.close(), slack.close()]);
      await env.cleanup();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
    assert.deepEqual(await remainingHandles(), []);
  });
});

describe('proof: a provider that hangs', () => {
  it('times out and retries its deliveries, recording each timeout, while another channel still sends at once', async () => {
    // PostgreSQL when there is one (it starts in a fraction of the embedded database's time).
    const env = await (PG_SKIP ? BACKENDS[0] : BACKENDS[1]).setup();
    const hang = await HangingPeer.start();
    const slack = await startSlackPeer();
    const TIMEOUT_MS = 2000;
    const path = writeConfig(
      env.dataDir,
      deliverySections({
        webhookUrl: `${hang.url}/hook`,
        secret: generateWebhookSecret(),
        slackUrl: slack.hookUrl,
        channels: { timeout_ms: TIMEOUT_MS, max_attempts: { default: 10, webhook: 2 } },
        // Few send slots: without the per-channel cap the hanging sends would take them all.
        worker: { concurrency: 4, per_channel_concurrency: 3 },
      }),
    );
    const server = await startTestServer(env, path);
    const db = server.store;
    const key = server.firstAdminKey!;
    interface Row {
      id: string;
      channel: string;
      status: string;
      attempts: number;
      latency_ms: number | null;
      task: string;
    }
    const deliveries = async () =>
      (
        await db.query<Row>(
          `SELECT d.id::text, d.channel, d.status, d.attempts, d.notification->>'task_id' AS task,
                  (extract(epoch FROM d.sent_at - d.created_at) * 1000)::float8 AS latency_ms
             FROM deliveries d ORDER BY d.seq`,
        )
      ).rows;
    try {
      // Four tasks fail in one request: four interventions, each a webhook and a Slack delivery.
      const r = await http(`${server.url}/v1/events`, { key, json: { events: [1, 2, 3, 4].map((i) => failed(`hang-${i}`)) } });
      assert.equal(r.status, 200, r.text);
      await until(async () => (await deliveries()).filter((d) => d.channel === 'slack' && d.status === 'sent').length === 4, 'the Slack deliveries', 5_000);

      // The first webhook attempts time out; while the retries hang, a fifth task fails.
      await until(async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM delivery_attempts`)).rows[0].n >= 4 + 3, 'first timeouts', 10_000);
      assert.equal((await http(`${server.url}/v1/events`, { key, json: failed('hang-5') })).status, 200);
      await until(async () => (await deliveries()).filter((d) => d.channel === 'slack' && d.status === 'sent').length === 5, 'the fifth Slack delivery', 5_000);

      const done = await until(async () => {
        const ds = await deliveries();
        return ds.length === 10 && ds.every((d) => d.status === 'sent' || d.status === 'dead') ? ds : null;
      }, 'every webhook delivery to be given up', 30_000);

      const slackRows = done.filter((d) => d.channel === 'slack');
      assert.deepEqual(slackRows.map((d) => [d.task, d.status, d.attempts]).sort(), [1, 2, 3, 4, 5].map((i) => [`hang-${i}`, 'sent', 1]));
      for (const d of slackRows) assert.ok(d.latency_ms! < TIMEOUT_MS - 500, `Slack delivery for ${d.task} sent ${d.latency_ms} ms after it was queued`);
      assert.equal(slack.received.length, 5, 'each Slack message sent once');

      const hooks = done.filter((d) => d.channel === 'webhook');
      assert.deepEqual(hooks.map((d) => [d.status, d.attempts]), Array(5).fill(['dead', 2]), 'each webhook delivery tried twice, then given up');
      const { rows: attempts } = await db.query<{ delivery_id: string; attempt: number; outcome: string; provider_status: string; error: string; duration_ms: number; start_ms: number }>(
        `SELECT a.delivery_id::text, a.attempt, a.outcome, a.provider_status, a.error, a.duration_ms, (extract(epoch FROM a.started_at) * 1000)::float8 AS start_ms
           FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.channel = 'webhook' ORDER BY a.delivery_id, a.attempt`,
      );
      assert.equal(attempts.length, 10);
      for (const a of attempts) {
        assert.equal(a.outcome, 'retryable');
        assert.equal(a.provider_status, 'timeout');
        assert.equal(a.error, `no answer within ${TIMEOUT_MS} ms`);
        assert.ok(a.duration_ms >= TIMEOUT_MS - 50 && a.duration_ms < TIMEOUT_MS + 1000, `attempt took ${a.duration_ms} ms`);
      }
      for (let i = 0; i < attempts.length; i += 2) {
        const [a1, a2] = [attempts[i], attempts[i + 1]];
        assert.deepEqual([a1.delivery_id, a1.attempt, a2.attempt], [a2.delivery_id, 1, 2]);
        assert.ok(a2.start_ms >= a1.start_ms + a1.duration_ms, 'the retry starts after the first attempt timed out');
      }
      assert.equal(hang.requests, 10, 'every attempt reached the hanging peer');
    } finally {
      await server.close();
      await Promise.all([hang.close(), slack.close()]);
      await env.cleanup();
    }
    assert.deepEqual(await remainingHandles(), []);
  });

  it('a backlog of the hanging channel does not take every send slot from the others', async () => {
    const env = await (PG_SKIP ? BACKENDS[0] : BACKENDS[1]).setup();
    const hang = await HangingPeer.start();
    const slack = await startSlackPeer();
    const TIMEOUT_MS = 2000;
    const sections = deliverySections({
      webhookUrl: `${hang.url}/hook`,
      secret: generateWebhookSecret(),
      slackUrl: slack.hookUrl,
      channels: { timeout_ms: TIMEOUT_MS, max_attempts: { default: 10, webhook: 1 } },
      worker: { enabled: false, concurrency: 4, per_channel_concurrency: 2 },
    });
    // URGENT goes to the hanging webhook only, WARNING to Slack only.
    const interventions = sections.interventions as Record<string, unknown>;
    interventions.routes = [
      { name: 'urgent', channels: ['webhook'], match: { min_level: 'URGENT' } },
      { name: 'warning', channels: ['slack'], match: { levels: ['WARNING'] } },
    ];
    const path = writeConfig(env.dataDir, sections);
    const storeArgs = ['--config', path, '--data', env.dataDir, ...(env.databaseUrl ? ['--database-url', env.databaseUrl] : [])];
    const ac = new AbortController();
    let worker: Promise<CliResult> | undefined;
    let stopped: CliResult | undefined;
    try {
      // A server with no worker queues four webhook deliveries, then four Slack ones.
      const server = await startTestServer(env, path);
      try {
        for (const level of ['URGENT', 'URGENT', 'URGENT', 'URGENT', 'WARNING', 'WARNING', 'WARNING', 'WARNING']) {
          const r = await http(`${server.url}/v1/interventions`, { key: server.firstAdminKey!, json: { level, title: `backlog ${level}`, task_id: `backlog-${randomUUID()}` } });
          assert.equal(r.status, 201, r.text);
        }
      } finally {
        await server.close();
      }
      // A worker with four slots, two per channel, starts on that backlog: the webhook rows first.
      let readyAt = 0;
      worker = vigil(['worker', ...storeArgs, '--log-level', 'silent'], {
        signal: ac.signal,
        onStdout: (out) => (readyAt ||= /Outbox: worker/.test(out) ? Date.now() : 0),
      });
      await until(() => slack.received.length === 4, 'the Slack deliveries', 10_000);
      const elapsed = Date.now() - readyAt;
      assert.ok(readyAt > 0 && elapsed < TIMEOUT_MS / 2, `Slack waited ${elapsed} ms behind the hanging webhook sends`);
      assert.ok(hang.requests <= 2, `${hang.requests} webhook sends hang at once; the channel's cap is 2`);
    } finally {
      ac.abort();
      stopped = await worker;
      await Promise.all([hang.close(), slack.close()]);
      await env.cleanup();
    }
    assert.equal(stopped?.code, 0, stopped?.stderr);
    assert.deepEqual(await remainingHandles(), []);
  });
});
