import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { InterventionService } from '../../src/interventions/service.js';
import { MemoryDeliveryRecorder } from '../../src/interventions/deliveries.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';
import { http, remainingHandles } from '../http/harness.js';
import { startServe, vigil, type ServeChild } from './cli.js';

type J = Record<string, unknown>;

for (const backend of BACKENDS) {
  describe(`vigil interventions and silences on the ${backend.name} store (no server running)`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: string[];
    const ids: Record<string, string> = {};
    before(async () => {
      env = await backend.setup();
      store = ['--data', env.dataDir, ...(env.databaseUrl ? ['--database-url', env.databaseUrl] : [])];
      const s = await openTestStore(env);
      const svc = new InterventionService({ store: s, logger: pino({ level: 'silent' }), recorder: new MemoryDeliveryRecorder() });
      try {
        ids.budget = (await svc.open({ level: 'WARNING', title: 'Budget at 80%', reasons: ['BUDGET_EXCEEDED'], by: 'seed' })).intervention.id;
        ids.task = (await svc.check({ id: 'loan-1', priority: 'critical', confidence: 0.3 })).intervention!.id;
      } finally {
        await svc.close();
        await s.close();
      }
    });
    after(async () => {
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    it('list: a table, filters, JSON with pages', async () => {
      const t = await vigil(['interventions', 'list', ...store]);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, /^ID\s+LEVEL\s+STATUS\s+OCC\s+LAST SEEN\s+TASK\s+REASONS\s+TITLE\n/);
      assert.match(t.stdout, new RegExp(`${ids.task}\\s+URGENT\\s+open\\s+1\\s+\\S+\\s+loan-1\\s+LOW_CONFIDENCE,CRITICAL_PRIORITY\\s+Intervention Required for Task loan-1`));
      const warn = await vigil(['interventions', 'list', '--level', 'WARNING', '--json', ...store]);
      assert.deepEqual((JSON.parse(warn.stdout) as { interventions: J[] }).interventions.map((i) => i.id), [ids.budget]);
      const page = await vigil(['interventions', 'list', '--limit', '1', ...store]);
      assert.match(page.stderr, /more: --cursor \S+/);
      const bad = await vigil(['interventions', 'list', '--status', 'closed', ...store]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /argument 'closed' is invalid/);
      assert.equal((await vigil(['interventions', 'list', '--status', 'resolved', ...store])).stdout, 'no interventions\n');
    });

    it('show, ack and resolve: recorded with --by, conflicts and unknown ids are one clear line', async () => {
      const show = await vigil(['interventions', 'show', ids.task, ...store]);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, /^Intervention Required for Task loan-1\n {2}id {11}\S+/);
      assert.match(show.stdout, /Occurrences:\n {2}\S+ {2}URGENT {3}check/);
      assert.match(show.stdout, /Notifications:\n {2}\S+ {2}first_time {7}URGENT {3}email,slack,websocket/);
      const ack = await vigil(['interventions', 'ack', ids.task, '--by', 'alice', ...store]);
      assert.equal(ack.code, 0, ack.stderr);
      assert.match(ack.stdout, new RegExp(`Intervention ${ids.task} acknowledged by alice at `));
      const res = await vigil(['interventions', 'resolve', ids.task, '--note', 'fixed', '--json', ...store]);
      const i = JSON.parse(res.stdout) as J;
      assert.equal(i.status, 'resolved');
      assert.match(i.resolved_by as string, /^cli:/);
      const late = await vigil(['interventions', 'ack', ids.task, ...store]);
      assert.equal(late.code, 1);
      assert.match(late.stderr, /^vigil: intervention \S+ is already resolved\n$/);
      const missing = await vigil(['interventions', 'show', '0190a5c2-0000-7000-8000-000000000000', ...store]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no intervention has the id/);
    });

    it('silences add, list and expire', async () => {
      const add = await vigil(['silences', 'add', '--match', 'reasons=BUDGET_EXCEEDED', '--match', 'level<=WARNING', '--duration', '2h', '--comment', 'review', '--by', 'bob', '--json', ...store]);
      assert.equal(add.code, 0, add.stderr);
      const s = JSON.parse(add.stdout) as J;
      assert.deepEqual(s.matchers, [{ field: 'reasons', op: 'eq', value: 'BUDGET_EXCEEDED' }, { field: 'level', op: 'lte', value: 'WARNING' }]);
      assert.equal(s.created_by, 'bob');
      const list = await vigil(['silences', 'list', ...store]);
      assert.match(list.stdout, /^ID\s+STARTS\s+ENDS\s+BY\s+MATCHERS\s+COMMENT\n/);
      assert.match(list.stdout, /bob\s+reasons eq "BUDGET_EXCEEDED" and level lte "WARNING"\s+review/);
      const exp = await vigil(['silences', 'expire', s.id as string, ...store]);
      assert.equal(exp.code, 0, exp.stderr);
      assert.match(exp.stdout, /Silence \S+ expired at /);
      assert.equal((await vigil(['silences', 'list', ...store])).stdout, 'no silences\n');
      assert.equal((JSON.parse((await vigil(['silences', 'list', '--all', '--json', ...store])).stdout) as J[]).length, 1);
      const none = await vigil(['silences', 'add', '--match', 'level=INFO', ...store]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /give --duration or --ends-at/);
      const bad = await vigil(['silences', 'add', '--match', 'colour=red', '--duration', '1h', ...store]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /matchers\[0\]\.field/);
    });
  });
}

describe('vigil interventions and silences next to a running vigil serve (embedded store)', () => {
  let env: Awaited<ReturnType<(typeof BACKENDS)[0]['setup']>>;
  let server: ServeChild;
  let data: string[];
  before(async () => {
    env = await BACKENDS[0].setup();
    data = ['--data', env.dataDir];
    server = await startServe(data);
  });
  after(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await env.cleanup();
    assert.deepEqual(await remainingHandles(), []);
  });

  it('go through the server API with its local key; the server runs the stream rules on its ingest', async () => {
    const key = server.adminKey!;
    for (let i = 0; i < 3; i++) {
      assert.equal((await http(`${server.url}/v1/events`, { key, json: { event_type: 'task_failed', task_id: 'served-1', error_message: `e${i}` } })).status, 200);
    }
    let listed: J[] = [];
    for (let i = 0; i < 250 && listed.length === 0; i++) {
      const r = await vigil(['interventions', 'list', '--json', ...data]);
      assert.equal(r.code, 0, r.stderr);
      listed = (JSON.parse(r.stdout) as { interventions: J[] }).interventions;
      if (listed.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(listed.map((i) => [i.task_id, i.reasons, i.source]), [['served-1', ['ERROR_THRESHOLD'], 'rule:errors_per_task']]);
    const id = listed[0].id as string;
    const ack = await vigil(['interventions', 'ack', id, ...data]);
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stdout, /acknowledged by local CLI/);
    const show = await vigil(['interventions', 'show', id, '--json', ...data]);
    assert.equal((JSON.parse(show.stdout) as { intervention: J }).intervention.status, 'acknowledged');
    const add = await vigil(['silences', 'add', '--match', 'task_id=served-2', '--duration', '30m', '--json', ...data]);
    assert.equal(add.code, 0, add.stderr);
    const sid = (JSON.parse(add.stdout) as J).id as string;
    assert.match((await vigil(['silences', 'list', ...data])).stdout, new RegExp(sid));
    assert.equal((await vigil(['silences', 'expire', sid, ...data])).code, 0);
    const missing = await vigil(['interventions', 'resolve', '0190a5c2-0000-7000-8000-000000000000', ...data]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /the server at http:\S+ \(process \d+\): Vigil answered 404: no intervention/);
  });
});

describe('vigil interventions and silences help', () => {
  it('every command has a --help that exits 0 and names its options', async () => {
    const cases: [string[], RegExp][] = [
      [[], /interventions.*\n.*silences/s],
      [['interventions'], /list.*show.*ack.*resolve/s],
      [['interventions', 'list'], /--status <status>.*--level <level>.*--task <task_id>.*--limit <n>.*--cursor <cursor>.*--json.*--data <dir>/s],
      [['interventions', 'show'], /<id>.*--json/s],
      [['interventions', 'ack'], /<id>.*--by <name>/s],
      [['interventions', 'resolve'], /<id>.*--note <text>.*--by <name>/s],
      [['silences'], /add.*list.*expire/s],
      [['silences', 'add'], /--match <matcher>.*--duration <d>.*--ends-at <time>.*--starts-at <time>.*--comment <text>/s],
      [['silences', 'list'], /--all.*--active/s],
      [['silences', 'expire'], /<id>/],
    ];
    for (const [cmd, re] of cases) {
      const r = await vigil([...cmd, '--help']);
      assert.equal(r.code, 0, cmd.join(' '));
      assert.match(r.stdout, re, cmd.join(' '));
    }
  });

  it('vigil serve stops at once, naming every problem, on a bad interventions section', async () => {
    const env = await BACKENDS[0].setup();
    try {
      const file = join(env.dataDir, 'vigil.config.yaml');
      writeFileSync(file, 'interventions:\n  thresholds: {error_threshold: -1}\n  escalation: {HIGH: {repeat_after: 1h}}\n');
      const r = await vigil(['serve', '--port', '0', '--log-level', 'silent', '--config', file, '--data', join(env.dataDir, 'db')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /vigil\.config\.yaml: interventions: interventions\.thresholds\.error_threshold: expected a positive integer, got -1; interventions\.escalation\.HIGH: unknown level/);
      assert.equal(existsSync(join(env.dataDir, 'db', 'cli.key')), false, 'the server never started');
    } finally {
      await env.cleanup();
    }
  });
});
