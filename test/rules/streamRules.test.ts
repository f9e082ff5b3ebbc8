import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { insertEvents } from '../../src/events/insertEvents.js';
import type { EventRow } from '../../src/events/types.js';
import { validateEvent } from '../../src/events/validate.js';
import { InterventionService } from '../../src/interventions/service.js';
import { MemoryDeliveryRecorder } from '../../src/interventions/deliveries.js';
import type { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/util/clock.js';
import { BACKENDS, openHandles, openTestStore } from '../helpers/stores.js';

const T0 = Date.parse('2026-01-10T12:00:00Z');
const MIN = 60_000;
const silent = pino({ level: 'silent' });

function row(event: Record<string, unknown>, at: number): EventRow {
  const v = validateEvent({ ...event, timestamp: new Date(at).toISOString() } as never, at);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.row;
}
const failed = (task: string, at = T0) => row({ event_type: 'task_failed', task_id: task, error_message: 'boom' }, at);
const spent = (usd: number, at = T0) => row({ event_type: 'model_called', model_name: 'gpt-4', provider: 'openai', tokens_used: 10, cost_usd: usd }, at);
const denied = (user: string, at: number) => row({ event_type: 'permission_denied', user_id: user, permission: 'p', resource: 'r', action: 'delete' }, at);

for (const backend of BACKENDS) {
  describe(`stream rules on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    let svc: InterventionService;
    const clock = new ManualClock(T0);

    const open = async () => {
      store = await openTestStore(env);
      svc = new InterventionService({ store, clock, logger: silent, recorder: new MemoryDeliveryRecorder() });
    };
    /** What the writer does: commit the rows, then hand them to the rules. */
    const commit = async (...rows: EventRow[]) => {
      await insertEvents(store, rows);
      return svc.evaluate(rows);
    };
    const interventions = async (key: string) =>
      (await store.query<{ level: string; reasons: string[]; status: string; occurrences: number }>('SELECT level, reasons, status, occurrences FROM interventions WHERE dedupe_key = $1 ORDER BY seq', [key])).rows;

    before(async () => {
      env = await backend.setup();
      await open();
    });
    after(async () => {
      await svc.close();
      await store.close();
      await env.cleanup();
      assert.deepEqual(openHandles(), [], 'the test left sockets or servers open');
    });

    it('errors per task: URGENT ERROR_THRESHOLD exactly at the third task_failed, once', async () => {
      assert.equal((await commit(failed('e1'), failed('e2'))).fires.length, 0);
      assert.equal((await commit(failed('e1'))).fires.length, 0, 'two errors: not yet');
      assert.equal(await svc.errorCount('e1'), 2);
      assert.deepEqual(await interventions('task:e1'), []);
      const r = await commit(failed('e1'));
      assert.equal(r.fires.length, 1);
      assert.equal(r.fires[0].value, 3);
      assert.deepEqual(await interventions('task:e1'), [{ level: 'URGENT', reasons: ['ERROR_THRESHOLD'], status: 'open', occurrences: 1 }]);
      assert.equal(r.triggered[0].intervention.task_id, 'e1');
      assert.equal(r.triggered[0].intervention.message, 'Task e1 failed 3 times (threshold 3)');
      assert.equal((await commit(failed('e1'))).fires.length, 0, 'the tier fired once; the fourth error does not re-alert');
      assert.equal(await svc.errorCount('e1'), 4);
      assert.equal(await svc.errorCount('e2'), 1, 'counted per task');
    });

    it('a batch delivered twice (a retried commit) is counted once', async () => {
      const rows = [failed('d1'), failed('d1')];
      await commit(...rows);
      await commit(...rows);
      assert.equal(await svc.errorCount('d1'), 2);
      assert.deepEqual(await interventions('task:d1'), []);
    });

    it('counts survive closing and reopening the store between events', async () => {
      await commit(failed('r1'));
      await svc.close();
      await store.close();
      await open();
      await commit(failed('r1'));
      await svc.close();
      await store.close();
      await open();
      assert.equal(await svc.errorCount('r1'), 2);
      assert.equal((await commit(failed('r1'))).fires.length, 1);
      assert.equal((await interventions('task:r1')).length, 1);
    });

    it('recordError / resetErrorCount are backed by the database and re-arm the rule', async () => {
      const a = await svc.recordError('x1', new TypeError('bad input'));
      assert.equal(a.error_count, 1);
      const { rows } = await store.query<{ log_metadata: Record<string, unknown> }>('SELECT log_metadata FROM logs WHERE id = $1', [a.event_id]);
      assert.deepEqual(rows[0].log_metadata, { event_type: 'task_failed', task_id: 'x1', error_message: 'bad input', error_type: 'TypeError' });
      await svc.recordError('x1', 'again');
      const c = await svc.recordError('x1', { message: 'third', type: 'Timeout' });
      assert.equal(c.error_count, 3);
      assert.equal(c.triggered.length, 1);
      const check = await svc.check({ id: 'x1' }, {}, { dry_run: true });
      assert.deepEqual(check.reasons.map((r) => r.code), ['ERROR_THRESHOLD']);
      assert.equal(await svc.resetErrorCount('x1'), 3);
      assert.equal(await svc.errorCount('x1'), 0);
      assert.equal((await svc.check({ id: 'x1' }, {}, { dry_run: true })).needed, false);
      await svc.resolve(c.triggered[0].intervention.id, 'ops');
      await svc.recordError('x1', 'a');
      await svc.recordError('x1', 'b');
      assert.equal((await svc.recordError('x1', 'c')).triggered.length, 1, 'fires again after the reset');
      assert.deepEqual((await interventions('task:x1')).map((i) => i.status), ['resolved', 'open']);
    });

    it('thresholds changed at run time move the rule too', async () => {
      svc.updateThresholds({ error_threshold: 2 });
      try {
        await commit(failed('th1'));
        assert.equal((await commit(failed('th1'))).fires.length, 1, 'fires at 2 now');
      } finally {
        svc.updateThresholds({ error_threshold: 3 });
      }
      assert.throws(() => svc.updateThresholds({ error_threshold: -1 }), /error_threshold: expected a positive integer/);
    });

    it('budget: tiers at exactly 80%, 100% and 150% of the monthly budget, each once, per calendar month', async () => {
      assert.equal((await commit(spent(40), spent(39.5))).fires.length, 0, '$79.50: below 80%');
      let r = await commit(spent(0.5));
      assert.deepEqual(r.fires.map((f) => [f.level, f.value, f.threshold, f.period]), [['WARNING', 80, 80, '2026-01']]);
      assert.equal(r.triggered[0].intervention.dedupe_key, 'budget:2026-01');
      assert.equal(r.triggered[0].intervention.task_id, null);
      assert.equal((await commit(spent(19.75))).fires.length, 0, '$99.75');
      r = await commit(spent(0.25));
      assert.deepEqual(r.fires.map((f) => f.level), ['URGENT']);
      assert.equal(r.triggered[0].decision.why, 'level_rose');
      assert.equal((await commit(spent(49.99))).fires.length, 0);
      assert.equal(await svc.budgetUsed(), 149.99);
      assert.deepEqual((await commit(spent(0.01))).fires.map((f) => f.level), ['CRITICAL'], 'float sums reach the tier exactly');
      assert.deepEqual(await interventions('budget:2026-01'), [{ level: 'CRITICAL', reasons: ['BUDGET_EXCEEDED'], status: 'open', occurrences: 3 }]);
      assert.equal((await commit(spent(500))).fires.length, 0, 'no tier above CRITICAL');
      // A new month counts from zero: the first tier fires again, under a new key.
      const feb = Date.parse('2026-02-01T00:00:00Z');
      assert.equal((await commit(spent(79, feb))).fires.length, 0);
      r = await commit(spent(1, feb + 1));
      assert.deepEqual(r.fires.map((f) => [f.level, f.period]), [['WARNING', '2026-02']]);
      // The checks read the spend from the audit data when the caller gives none.
      clock.set(feb + 5);
      const check = await svc.check({ id: 'b1' }, {}, { dry_run: true });
      assert.equal(check.facts.budget_used, 80);
      assert.equal(check.needed, false, '80 is not above the 100 USD threshold');
      // tick() forgets periods before the previous one.
      clock.set(Date.parse('2026-03-15T00:00:00Z'));
      await svc.tick();
      const { rows } = await store.query<{ bucket: string; n: number }>(
        "SELECT bucket, count(*)::int AS n FROM rule_hits WHERE rule_id = 'monthly_budget' GROUP BY bucket ORDER BY bucket",
      );
      assert.deepEqual(rows, [{ bucket: '2026-02-01', n: 2 }]);
      clock.set(T0);
    });

    it("budget: a batch adds to the month's stored total, it does not re-read the month's calls", async () => {
      const may = Date.parse('2026-05-03T00:00:00Z');
      for (let b = 0; b < 3; b++) await commit(...Array.from({ length: 1000 }, (_, i) => spent(0.01, may + b * 1000 + i)));
      // The month's hits so far are taken away behind the engine's back: an evaluation that
      // re-read them would now find $0.75; one that adds to the stored total finds $30.75.
      const { rowCount } = await store.query("DELETE FROM rule_hits WHERE rule_id = 'monthly_budget' AND bucket = '2026-05-01'");
      assert.equal(rowCount, 3000);
      const r = await commit(spent(0.5, may + 5000), spent(0.25, may + 5001));
      assert.deepEqual(r.fires, [], '$30.75: below the first tier');
      const { rows } = await store.query<{ value: number }>("SELECT value FROM rule_state WHERE rule_id = 'monthly_budget' AND bucket = '2026-05-01'");
      assert.ok(Math.abs(rows[0].value - 30.75) < 1e-9, `stored total ${rows[0].value}`);
      // Crossing the first tier from the stored total fires it.
      const fires = (await commit(spent(49.25, may + 6000))).fires;
      assert.deepEqual(fires.map((f) => f.level), ['WARNING']);
      assert.ok(Math.abs(fires[0].value - 80) < 1e-9, `value ${fires[0].value}`);
    });

    it('security: WARNING when one user is refused 5 times within 10 minutes, not 5 times in 11', async () => {
      for (const m of [0, 3, 6, 9]) assert.equal((await commit(denied('u1', T0 + m * MIN))).fires.length, 0);
      assert.equal((await commit(denied('u2', T0 + 9 * MIN))).fires.length, 0, 'other users count apart');
      assert.equal((await commit(denied('u1', T0 + 10 * MIN + 1))).fires.length, 0, 'the first denial slid out of the window: 4 in 10 minutes');
      const r = await commit(denied('u1', T0 + 11 * MIN));
      assert.deepEqual(r.fires.map((f) => [f.level, f.value, f.rule.reason]), [['WARNING', 5, 'SECURITY']]);
      assert.equal(r.triggered[0].intervention.dedupe_key, 'security:u1');
      assert.equal((await commit(denied('u1', T0 + 12 * MIN))).fires.length, 0, 'still in the same burst');
      // Quiet for a while: the window empties and the rule re-arms for the next burst.
      assert.equal((await commit(denied('u1', T0 + 40 * MIN))).fires.length, 0);
      for (const m of [41, 42, 43]) assert.equal((await commit(denied('u1', T0 + m * MIN))).fires.length, 0);
      assert.equal((await commit(denied('u1', T0 + 44 * MIN))).fires.length, 1);
      assert.deepEqual(await interventions('security:u1'), [{ level: 'WARNING', reasons: ['SECURITY'], status: 'open', occurrences: 2 }]);
    });

    it('a late event older than the window cannot re-arm the rule', async () => {
      for (const m of [0, 1, 2, 3, 4]) await commit(denied('u3', T0 + m * MIN));
      assert.equal((await commit(denied('u3', T0 - 60 * MIN))).fires.length, 0);
      assert.equal((await commit(denied('u3', T0 + 5 * MIN))).fires.length, 0, 'no second alert for the same burst');
    });
  });
}
