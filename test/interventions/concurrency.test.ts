/**
 * Several Vigil processes against one database: two services, each with its own store (its own
 * connection pool on PostgreSQL; the embedded database allows one process, so they share it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { insertEvents } from '../../src/events/insertEvents.js';
import { validateEvent } from '../../src/events/validate.js';
import { resolveInterventionConfig } from '../../src/interventions/config.js';
import { MemoryDeliveryRecorder } from '../../src/interventions/deliveries.js';
import { InterventionService } from '../../src/interventions/service.js';
import { createAuditLogger } from '../../src/index.js';
import type { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/util/clock.js';
import { BACKENDS, openHandles, openTestStore } from '../helpers/stores.js';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const silent = pino({ level: 'silent' });
const config = resolveInterventionConfig({ escalation: { WARNING: { repeat_after: '1h', escalate_after: '10m' } } });

for (const backend of BACKENDS) {
  describe(`several evaluators on one ${backend.name} database`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let stores: Store[];
    let svcs: InterventionService[];
    const clock = new ManualClock(T0);

    before(async () => {
      env = await backend.setup();
      const a = await openTestStore(env);
      stores = backend.name === 'postgres' ? [a, await openTestStore(env)] : [a];
      svcs = [0, 1].map((i) => new InterventionService({ store: stores[i % stores.length], clock, config, logger: silent, recorder: new MemoryDeliveryRecorder() }));
    });
    after(async () => {
      for (const s of svcs) await s.close();
      for (const s of stores) await s.close();
      await env.cleanup();
      assert.deepEqual(openHandles(), [], 'the test left sockets or servers open');
    });

    it('events committed and evaluated at the same time by two processes fire the rule once, at the threshold', async () => {
      const rows = Array.from({ length: 12 }, (_, i) => {
        const v = validateEvent({ event_type: 'task_failed', task_id: 'cc1', error_message: `e${i}` }, T0 + i);
        assert.ok(v.ok);
        return v.row;
      });
      const results = await Promise.all(
        rows.map(async (r, i) => {
          const store = stores[i % stores.length];
          await insertEvents(store, [r]);
          return svcs[i % 2].evaluate([r]);
        }),
      );
      assert.equal(results.reduce((n, r) => n + r.fires.length, 0), 1);
      assert.equal(results.find((r) => r.fires.length === 1)!.fires[0].value, 3, 'fired with exactly three counted');
      assert.equal(await svcs[1].errorCount('cc1'), 12);
      const { interventions } = await svcs[0].list({ task_id: 'cc1' });
      assert.deepEqual(interventions.map((i) => [i.level, i.occurrences]), [['URGENT', 1]]);
    });

    it('concurrent triggers of one dedupe key make one intervention, notified once', async () => {
      const outcomes = await Promise.all(Array.from({ length: 16 }, (_, i) => svcs[i % 2].check({ id: 'cc2', impact: 'high' })));
      assert.equal(outcomes.filter((o) => o.created).length, 1);
      const ids = new Set(outcomes.map((o) => o.intervention!.id));
      assert.equal(ids.size, 1);
      const d = (await svcs[0].get([...ids][0]))!;
      assert.equal(d.intervention.occurrences, 16);
      assert.equal(d.occurrences.length, 16);
      assert.deepEqual(d.notifications.map((n) => n.reason), ['first_time']);
    });

    it('concurrent ticks escalate each intervention once', async () => {
      clock.advance(10 * 60_000);
      const ticks = await Promise.all([svcs[0].tick(), svcs[1].tick(), svcs[0].tick(), svcs[1].tick()]);
      const escalated = ticks.flatMap((t) => t.escalated.map((d) => d.intervention_id));
      const { interventions } = await svcs[0].list({ task_id: 'cc2' });
      assert.deepEqual(escalated, [interventions[0].id]);
      assert.equal(interventions[0].level, 'URGENT');
    });

    it('the writer\'s onCommit hook feeds the rules', async () => {
      const logger = createAuditLogger({ store: stores[0], dataDir: env.dataDir, logger: silent, logLine: false, onCommit: svcs[0].onCommit });
      for (let i = 0; i < 4; i++) logger.logPermissionDenied({ user_id: 'hook1', permission: 'p', resource: 'r', action: 'a' });
      assert.equal(await logger.flush(), true);
      await svcs[0].idle();
      assert.equal((await svcs[0].list({})).interventions.filter((i) => i.dedupe_key === 'security:hook1').length, 0, 'four denials: not yet');
      logger.logPermissionDenied({ user_id: 'hook1', permission: 'p', resource: 'r', action: 'a' });
      await logger.close();
      await svcs[0].idle();
      const found = (await svcs[0].list({})).interventions.filter((i) => i.dedupe_key === 'security:hook1');
      assert.deepEqual(found.map((i) => [i.level, i.reasons]), [['WARNING', ['SECURITY']]]);
    });
  });
}
