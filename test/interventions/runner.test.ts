import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { insertEvents } from '../../src/events/insertEvents.js';
import { validateEvent } from '../../src/events/validate.js';
import { buildApp, type VigilApp } from '../../src/http/app.js';
import { createKey } from '../../src/http/apiKeys.js';
import { createAuditLogger } from '../../src/index.js';
import { MemoryDeliveryRecorder } from '../../src/interventions/deliveries.js';
import { RuleRunner } from '../../src/interventions/runner.js';
import { InterventionService } from '../../src/interventions/service.js';
import type { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/util/clock.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';
import { http, remainingHandles } from '../http/harness.js';

const silent = pino({ level: 'silent' });
const failed = (task: string) => ({ event_type: 'task_failed', task_id: task, error_message: 'boom' });

/** `at`: the event's time; the held transaction's row is hours earlier, so it takes no lock (the
 * hourly stats rollups) the other writers need: a late commit, not a wait. */
function row(task: string, at = Date.now()) {
  const v = validateEvent({ ...failed(task), timestamp: new Date(at).toISOString() }, at);
  assert.ok(v.ok);
  return v.row;
}

for (const backend of BACKENDS) {
  describe(`the stream rule runner on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    let svc: InterventionService;
    let runner: RuleRunner;
    let app: VigilApp;
    let url: string;
    let ingestKey: string;

    /** A server as `vigil serve` wires it: the runner follows logs, woken by the app's commits. */
    async function start(pollIntervalMs: number) {
      store = await openTestStore(env);
      svc = new InterventionService({ store, logger: silent, recorder: new MemoryDeliveryRecorder() });
      runner = new RuleRunner({ service: svc, logger: silent, pollIntervalMs });
      const r = runner;
      app = await buildApp({ store, log: silent, interventions: svc, onCommit: () => r.wake() });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      runner.start();
    }
    async function stop() {
      await app.close();
      await runner.close();
      await store.close();
    }
    const interventions = async (task: string) =>
      (await store.query<{ level: string; reasons: string[]; source: string; occurrences: number }>('SELECT level, reasons, source, occurrences FROM interventions WHERE task_id = $1 ORDER BY seq', [task])).rows;
    /** Waits until the runner's cursor has passed every committed row the rules count. */
    async function caughtUp(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await store.query<{ safe: string; top: string | null }>("SELECT (SELECT safe_seq FROM rule_cursor WHERE name = 'stream_rules') AS safe, (SELECT max(seq) FROM logs WHERE event_type = 'task_failed') AS top");
        if (Number(rows[0].safe) >= Number(rows[0].top ?? 0)) return;
        if (Date.now() > until) assert.fail(`the runner did not catch up: ${JSON.stringify(rows[0])}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const post = async (task: string) => assert.equal((await http(`${url}/v1/events`, { key: ingestKey, json: failed(task) })).status, 200);

    before(async () => {
      env = await backend.setup();
      // Polling once a minute: only the wake after each commit can make the rule fire in time.
      await start(60_000);
      ingestKey = (await createKey(store, { name: 'agent', scopes: ['ingest'] })).key;
    });
    after(async () => {
      await stop();
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    it('an event posted over HTTP triggers the rule exactly at its threshold, woken by the commit', async () => {
      await post('h1');
      await post('h1');
      await caughtUp();
      assert.deepEqual(await interventions('h1'), [], 'two errors: not yet');
      await post('h1');
      await caughtUp();
      assert.deepEqual(await interventions('h1'), [{ level: 'URGENT', reasons: ['ERROR_THRESHOLD'], source: 'rule:errors_per_task', occurrences: 1 }]);
      await post('h1');
      await caughtUp();
      assert.equal((await interventions('h1'))[0].occurrences, 1, 'the tier fired once');
    });

    it('a restart neither re-fires nor forgets: counts continue from the database', async () => {
      await post('r1');
      await caughtUp();
      await stop();
      await start(50);
      const again = await runner.pass();
      assert.equal(again.fired, 0);
      assert.equal((await interventions('h1')).length, 1);
      assert.equal((await interventions('h1'))[0].occurrences, 1, 'nothing re-fired after the restart');
      await post('r1');
      await caughtUp();
      assert.deepEqual(await interventions('r1'), []);
      await post('r1');
      await caughtUp();
      assert.equal((await interventions('r1')).length, 1, 'the third error fires, counted across the restart');
    });

    it('events written directly by the in-process SDK (not through this server) trigger the rule too', async () => {
      const logger =
        env.databaseUrl !== undefined
          ? createAuditLogger({ databaseUrl: env.databaseUrl, logLine: false, spoolDir: join(env.dataDir, 'sdk-spool'), postgres: { poolSize: 2 } })
          : createAuditLogger({ store, logLine: false, spoolDir: join(env.dataDir, 'sdk-spool') });
      try {
        for (let i = 0; i < 3; i++) assert.equal(logger.logTaskFailed({ task_id: 'sdk-direct', error_message: `e${i}` }).success, true);
        assert.equal(await logger.flush({ timeoutMs: 10_000 }), true);
      } finally {
        await logger.close();
      }
      await caughtUp();
      assert.deepEqual((await interventions('sdk-direct')).map((i) => i.reasons), [['ERROR_THRESHOLD']]);
    });

    it('a transaction committing late (lower seq, committed after higher ones) is still evaluated; a rolled-back hole is given up', { skip: backend.name === 'embedded' ? 'PGlite runs one transaction at a time: no late commits' : false }, async () => {
      const clock = new ManualClock(Date.now());
      const probe = new RuleRunner({ service: svc, logger: silent, clock, name: 'test_probe', gapTimeoutMs: 1_000 });
      await probe.pass(); // creates its cursor at the end of the trail
      const held = new pg.Client({ connectionString: env.databaseUrl });
      await held.connect();
      try {
        await held.query('BEGIN');
        const early = row('late-1', Date.now() - 3 * 3_600_000);
        await held.query(`INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata) VALUES ($1, $2, $3, $4, $5, $6)`, [
          early.id, early.level, early.message, new Date(early.time).toISOString(), early.event_type, JSON.stringify(early.metadata),
        ]);
        const { rows } = await held.query<{ seq: string }>('SELECT seq FROM logs WHERE id = $1', [early.id]);
        const heldSeq = Number(rows[0].seq);
        await insertEvents(store, [row('late-1'), row('late-1')]);
        const p1 = await probe.pass();
        assert.equal(p1.safe_seq, heldSeq - 1, 'the position stops before the uncommitted seq');
        assert.equal(await svc.errorCount('late-1'), 2);
        await held.query('COMMIT');
        const p2 = await probe.pass();
        assert.ok(p2.safe_seq > heldSeq);
        assert.equal(await svc.errorCount('late-1'), 3, 'the late row was evaluated');
        assert.equal((await interventions('late-1')).length, 1);

        await held.query('BEGIN');
        const lost = row('gap-1', Date.now() - 3 * 3_600_000);
        await held.query(`INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata) VALUES ($1, $2, $3, $4, $5, $6)`, [
          lost.id, lost.level, lost.message, new Date(lost.time).toISOString(), lost.event_type, JSON.stringify(lost.metadata),
        ]);
        await held.query('ROLLBACK');
        await insertEvents(store, [row('gap-1')]);
        const before = await probe.pass();
        const { rows: top } = await store.query<{ s: string }>('SELECT max(seq) AS s FROM logs');
        assert.ok(before.safe_seq < Number(top[0].s), 'a fresh hole holds the position');
        clock.advance(999);
        assert.equal((await probe.pass()).safe_seq, before.safe_seq);
        clock.advance(2);
        const given = await probe.pass();
        assert.ok(given.safe_seq >= Number(top[0].s), `the hole is given up after the timeout (${given.safe_seq})`);
      } finally {
        await held.end();
      }
    });

    it('several evaluators on one cursor count each event once', { skip: backend.name === 'embedded' ? 'one process holds the embedded database' : false }, async () => {
      const other = await openTestStore(env);
      const svc2 = new InterventionService({ store: other, logger: silent, recorder: new MemoryDeliveryRecorder() });
      const r2 = new RuleRunner({ service: svc2, logger: silent });
      try {
        await insertEvents(other, [row('par-1'), row('par-1'), row('par-1'), row('par-1')]);
        // Rounds of four concurrent passes, two per evaluator, until the four rows are counted. A pass
        // finding the cursor locked (by another of them, or by the server's own polling runner) does
        // not run; across the rounds some do. (The hole the test before left holds the position for
        // gapTimeoutMs; rows after it are evaluated.)
        let ran = 0;
        for (let i = 0; i < 500 && (ran === 0 || (await svc.errorCount('par-1')) < 4); i++) {
          const results = await Promise.all([runner.pass(), r2.pass(), runner.pass(), r2.pass()]);
          ran += results.filter((r) => r.ran).length;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(ran > 0, 'some of the concurrent passes ran');
        assert.equal(await svc.errorCount('par-1'), 4);
        assert.deepEqual((await interventions('par-1')).map((i) => i.occurrences), [1]);
      } finally {
        await svc2.close();
        await other.close();
      }
    });

    it('under a stream of commits, passes begin at most once per passGapMs; after a quiet spell, a wake runs one at once', async () => {
      class Counting extends RuleRunner {
        starts: number[] = [];
        override pass() {
          this.starts.push(Date.now());
          return super.pass();
        }
      }
      // Its own service (closing the runner closes it) and its own cursor: the other tests' runner is left alone.
      const own = new InterventionService({ store, logger: silent, recorder: new MemoryDeliveryRecorder() });
      const counting = new Counting({ service: own, logger: silent, pollIntervalMs: 60_000, passGapMs: 300, name: 'gap_test' });
      counting.start();
      try {
        for (let i = 0; i < 20; i++) {
          await insertEvents(store, [row(`gap-${i}`)]);
          counting.wake();
          await new Promise((r) => setTimeout(r, 30));
        }
        await counting.idle();
        const gaps = counting.starts.slice(1).map((t, i) => t - counting.starts[i]);
        // 20 wakes over 600 ms or more: the start, then a pass every 300 ms at most.
        assert.ok(counting.starts.length >= 2 && counting.starts.length < 20, `${counting.starts.length} passes`);
        for (const g of gaps) assert.ok(g >= 295, `passes ${g} ms apart: ${JSON.stringify(gaps)}`);
        await new Promise((r) => setTimeout(r, 400));
        await counting.idle();
        const before = counting.starts.length;
        const woken = Date.now();
        counting.wake();
        for (let i = 0; i < 100 && counting.starts.length === before; i++) await new Promise((r) => setTimeout(r, 5));
        assert.equal(counting.starts.length, before + 1);
        assert.ok(counting.starts[before] - woken < 200, `the pass began ${counting.starts[before] - woken} ms after the wake`);
      } finally {
        await counting.close();
      }
    });
  });
}
