import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { resolveInterventionConfig } from '../../src/interventions/config.js';
import { MemoryDeliveryRecorder } from '../../src/interventions/deliveries.js';
import { InterventionError } from '../../src/interventions/errors.js';
import { DEFAULT_ROUTES } from '../../src/interventions/routing.js';
import { InterventionService } from '../../src/interventions/service.js';
import type { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/util/clock.js';
import { BACKENDS, openHandles, openTestStore } from '../helpers/stores.js';

const T0 = Date.parse('2026-03-02T09:00:00Z');
const MIN = 60_000;
const ALL = ['slack', 'websocket', 'push', 'discord', 'in_app'];

const config = resolveInterventionConfig({
  escalation: { WARNING: { repeat_after: '10m', escalate_after: '30m' }, URGENT: { repeat_after: '5m', escalate_after: '20m' } },
  routes: [...DEFAULT_ROUTES, { name: 'finance', channels: ['finance_webhook'], match: { reasons: ['BUDGET_EXCEEDED'] } }],
});

for (const backend of BACKENDS) {
  describe(`intervention lifecycle on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    let svc: InterventionService;
    const clock = new ManualClock(T0);
    const recorder = new MemoryDeliveryRecorder();
    const channels = () => recorder.take().map((d) => d.channel);
    const audit = async (id: string) =>
      (await store.query<{ event_type: string; level: string; m: Record<string, unknown> }>(
        `SELECT event_type, level, log_metadata AS m FROM logs WHERE log_metadata @> $1::jsonb ORDER BY seq`,
        [JSON.stringify({ intervention_id: id })],
      )).rows;

    before(async () => {
      env = await backend.setup();
      store = await openTestStore(env);
      svc = new InterventionService({ store, clock, config, recorder, logger: pino({ level: 'silent' }) });
    });
    after(async () => {
      await svc.close();
      await store.close();
      await env.cleanup();
      assert.deepEqual(openHandles(), [], 'the test left sockets or servers open');
    });

    it('check opens one intervention per task; a repeat adds an occurrence and notifies only when the level rises', async () => {
      const dry = await svc.check({ id: 'c1', confidence: 0.5 }, {}, { dry_run: true });
      assert.equal(dry.needed, true);
      assert.equal(dry.intervention, null, 'a dry run opens nothing');
      assert.equal((await svc.list({ task_id: 'c1' })).interventions.length, 0);

      const first = await svc.check({ id: 'c1', text: 'Draft the contract', confidence: 0.5, agent: 'LegalAgent' }, { budget_used: 10 });
      assert.equal(first.level, 'WARNING');
      assert.equal(first.created, true);
      assert.equal(first.decision!.why, 'first_time');
      assert.deepEqual(first.decision!.channels, ALL);
      assert.deepEqual(channels(), ALL);
      const i = first.intervention!;
      assert.deepEqual(i.reasons, ['LOW_CONFIDENCE', 'COMPLIANCE_CHECK']);
      assert.equal(i.title, 'Intervention Required for Task c1');
      assert.deepEqual(i.context.task_summary, { text: 'Draft the contract', priority: null, confidence: 0.5, agent: 'LegalAgent' });

      clock.advance(MIN);
      const again = await svc.check({ id: 'c1', confidence: 0.5 }, {});
      assert.equal(again.created, false);
      assert.equal(again.intervention!.id, i.id);
      assert.equal(again.intervention!.occurrences, 2);
      assert.equal(again.decision!.why, 'deduplicated');
      assert.deepEqual(channels(), [], 'no alert storm');

      clock.advance(MIN);
      const rose = await svc.check({ id: 'c1', priority: 'critical' }, {});
      assert.equal(rose.intervention!.level, 'URGENT');
      assert.equal(rose.decision!.why, 'level_rose');
      assert.match(rose.decision!.explanation, /level rose from WARNING to URGENT/);
      assert.deepEqual(channels(), ['email', ...ALL]);
      assert.deepEqual(rose.intervention!.reasons, ['LOW_CONFIDENCE', 'COMPLIANCE_CHECK', 'CRITICAL_PRIORITY']);

      const detail = (await svc.get(i.id))!;
      assert.equal(detail.occurrences.length, 3);
      assert.deepEqual(detail.notifications.map((n) => [n.reason, n.level]), [['first_time', 'WARNING'], ['level_rose', 'URGENT']]);
      assert.equal(detail.deliveries.length, ALL.length * 2 + 1);
      assert.deepEqual((await audit(i.id)).map((e) => [e.event_type, e.level]), [
        ['intervention.triggered', 'WARNING'],
        ['intervention.triggered', 'WARNING'],
        ['intervention.triggered', 'ERROR'],
      ]);
      await svc.resolve(i.id, 'ops');
    });

    it('escalation: repeats after the repeat interval, raises one level after escalate-after; ack stops it', async () => {
      clock.set(T0 + 1000 * MIN);
      const { intervention: i } = await svc.open({ level: 'WARNING', title: 'Look at agent X', task_id: 'esc1', by: 'alice' });
      channels();
      clock.advance(10 * MIN - 1);
      assert.deepEqual(await svc.tick(), { escalated: [], repeated: [] }, 'not before the repeat interval');
      clock.advance(1);
      let t = await svc.tick();
      assert.deepEqual(t.repeated.map((d) => [d.why, d.level]), [['repeat_interval', 'WARNING']]);
      assert.deepEqual(channels(), ALL);
      assert.deepEqual((await svc.tick()).repeated, [], 'once per interval');
      clock.advance(20 * MIN - 1);
      t = await svc.tick();
      assert.deepEqual([t.escalated.length, t.repeated.length], [0, 1], '29:59 after opening: repeated again, not escalated');
      channels();
      clock.advance(1);
      t = await svc.tick();
      assert.deepEqual(t.escalated.map((d) => [d.why, d.level]), [['escalated', 'URGENT']]);
      assert.deepEqual(t.repeated, [], 'an escalation is a notification: no repeat in the same tick');
      assert.deepEqual(channels(), ['email', ...ALL]);
      clock.advance(5 * MIN);
      assert.equal((await svc.tick()).repeated.length, 1, 'URGENT repeats every 5 minutes');
      channels();

      const acked = await svc.ack(i.id, 'bob');
      assert.equal(acked.status, 'acknowledged');
      assert.equal(acked.acknowledged_by, 'bob');
      assert.equal(acked.acknowledged_at, new Date(clock.now()).toISOString());
      assert.equal((await svc.ack(i.id, 'carol')).acknowledged_by, 'bob', 'acknowledging twice changes nothing');
      clock.advance(24 * 60 * MIN);
      assert.deepEqual(await svc.tick(), { escalated: [], repeated: [] }, 'acknowledged: no repeats, no escalation');
      assert.deepEqual(channels(), []);
      assert.deepEqual((await audit(i.id)).map((e) => e.event_type), ['intervention.triggered', 'intervention.escalated', 'intervention.acknowledged']);
      const esc = (await audit(i.id))[1];
      assert.equal(esc.m.previous_level, 'WARNING');
      assert.equal(esc.m.level, 'URGENT');
      assert.equal((await audit(i.id))[2].m.by, 'bob');
      // A higher level still reaches people, and it stays acknowledged (no escalation timer restarts).
      const worse = await svc.open({ level: 'CRITICAL', title: 'Agent X is deleting data', task_id: 'esc1', by: 'alice' });
      assert.equal(worse.intervention.id, i.id);
      assert.equal(worse.intervention.status, 'acknowledged');
      assert.equal(worse.decision.why, 'level_rose');
      assert.deepEqual(channels(), ['email', 'slack', 'sms', ...ALL.slice(1)]);
      clock.advance(24 * 60 * MIN);
      assert.deepEqual(await svc.tick(), { escalated: [], repeated: [] });
    });

    it('resolve closes; the same trigger then opens a new intervention; a resolved one cannot be acknowledged', async () => {
      const a = await svc.open({ level: 'INFO', title: 'Review', task_id: 'rs1', by: 'alice' });
      const b = await svc.open({ level: 'INFO', title: 'Review', task_id: 'rs1', by: 'alice' });
      assert.equal(b.intervention.id, a.intervention.id);
      const resolved = await svc.resolve(a.intervention.id, 'bob', 'done');
      assert.equal(resolved.status, 'resolved');
      assert.equal(resolved.resolved_by, 'bob');
      assert.equal((await svc.resolve(a.intervention.id, 'carol')).resolved_by, 'bob', 'idempotent');
      await assert.rejects(svc.ack(a.intervention.id, 'x'), (err: unknown) => err instanceof InterventionError && err.code === 'conflict');
      const c = await svc.open({ level: 'INFO', title: 'Review', task_id: 'rs1', by: 'alice' });
      assert.equal(c.created, true);
      assert.notEqual(c.intervention.id, a.intervention.id);
      assert.equal(c.decision.why, 'first_time');
      assert.deepEqual((await audit(a.intervention.id)).map((e) => [e.event_type, e.m.status]), [
        ['intervention.triggered', 'open'],
        ['intervention.triggered', 'open'],
        ['intervention.resolved', 'resolved'],
      ]);
      assert.equal((await audit(a.intervention.id))[2].m.note, 'done');
      clock.advance(24 * 60 * MIN);
      const t = await svc.tick();
      assert.ok(!t.escalated.some((d) => d.intervention_id === a.intervention.id), 'a resolved one never escalates');
    });

    it('silences: recorded but not sent, until expired; routes by reason reach the finance webhook', async () => {
      channels();
      const s = await svc.addSilence({ matchers: [{ field: 'task_id', value: 'quiet1' }], duration: '1h', created_by: 'ops', comment: 'maintenance' });
      assert.deepEqual((await svc.listSilences({ active: true })).map((x) => x.id), [s.id]);
      const o = await svc.open({ level: 'CRITICAL', title: 'Down', task_id: 'quiet1', by: 'alice' });
      assert.equal(o.decision.notify, false);
      assert.deepEqual(o.decision.silenced_by, [s.id]);
      assert.deepEqual(o.decision.channels, ['email', 'slack', 'sms', ...ALL.slice(1)], 'the routing decision is still computed');
      assert.deepEqual(channels(), []);
      const detail = (await svc.get(o.intervention.id))!;
      assert.deepEqual(detail.notifications.map((n) => [n.reason, n.silenced_by, n.deliveries]), [['first_time', [s.id], 0]]);

      const expired = await svc.expireSilence(s.id, 'ops');
      assert.equal(expired.expired_by, 'ops');
      assert.deepEqual(await svc.listSilences({ active: true }), []);
      assert.equal((await svc.listSilences({ all: true })).length, 1);
      await assert.rejects(svc.expireSilence('not-an-id', 'ops'), (err: unknown) => err instanceof InterventionError && err.code === 'not_found');
      const other = await svc.open({ level: 'WARNING', title: 'Over budget', reasons: ['BUDGET_EXCEEDED'], by: 'finance-bot' });
      assert.equal(other.decision.notify, true);
      assert.deepEqual(channels(), [...ALL, 'finance_webhook']);
      assert.equal(other.decision.deliveries.find((d) => d.channel === 'finance_webhook')!.route, 'finance');
      const n = other.decision.deliveries[0].notification;
      assert.equal(n.delivery_id, other.decision.deliveries[0].id);
      assert.equal(n.intervention_id, other.intervention.id);
      assert.equal(n.action_url, `/interventions/${other.intervention.id}`);
      assert.deepEqual(n.reasons, ['BUDGET_EXCEEDED']);
    });

    it('start() ticks on a timer until close()', async () => {
      const ticker = new InterventionService({ store, clock, config: { ...config, tick_interval_ms: 5 }, recorder, logger: pino({ level: 'silent' }) });
      const { intervention } = await ticker.open({ level: 'URGENT', title: 'Timer', task_id: 'tm1', by: 'alice' });
      clock.advance(20 * MIN);
      ticker.start();
      for (let i = 0; i < 200 && (await ticker.get(intervention.id))!.intervention.level !== 'CRITICAL'; i++) await new Promise((r) => setTimeout(r, 10));
      await ticker.close();
      assert.equal((await ticker.get(intervention.id))!.intervention.level, 'CRITICAL');
      await ticker.resolve(intervention.id, 'alice');
    });

    it('lists newest first with filters and a cursor; get answers null for unknown ids', async () => {
      const all = (await svc.list({ limit: 500 })).interventions;
      assert.ok(all.length >= 5);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await svc.list({ limit: 2, cursor });
        seen.push(...page.interventions.map((i) => i.id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      assert.deepEqual(seen, all.map((i) => i.id));
      assert.ok((await svc.list({ status: 'resolved' })).interventions.every((i) => i.status === 'resolved'));
      assert.ok((await svc.list({ level: 'CRITICAL' })).interventions.every((i) => i.level === 'CRITICAL'));
      await assert.rejects(svc.list({ level: 'LOUD' as never }), /level: expected one of INFO, WARNING, URGENT, CRITICAL/);
      await assert.rejects(svc.list({ cursor: 'garbage' }), /cursor: not a cursor/);
      assert.equal(await svc.get('0190a0a0-0000-7000-8000-000000000001'), null);
      assert.equal(await svc.get('nope'), null);
      await assert.rejects(svc.open({ level: 'SEVERE', title: '', by: '' } as never), (err: unknown) => {
        assert.ok(err instanceof InterventionError && err.code === 'invalid');
        assert.deepEqual(err.problems, ['level: expected one of INFO, WARNING, URGENT, CRITICAL, got "SEVERE"', 'title: required', 'by: required']);
        return true;
      });
    });
  });
}
