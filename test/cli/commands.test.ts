import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { insertEvents } from '../../src/events/insertEvents.js';
import { validateEvent } from '../../src/events/validate.js';
import { uuidv7 } from '../../src/events/uuid7.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';
import { ev, http, remainingHandles, startHarness } from '../http/harness.js';
import { vigil } from './cli.js';

for (const backend of BACKENDS) {
  describe(`CLI commands on the ${backend.name} store (no server running)`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: string[];
    before(async () => {
      env = await backend.setup();
      store = ['--data', env.dataDir, ...(env.databaseUrl ? ['--database-url', env.databaseUrl] : [])];
    });
    after(async () => {
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    it('migrate applies the migrations, then says the database is up to date', async () => {
      const first = await vigil(['migrate', ...store]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /applied 001_logs, 002_api_keys/);
      const second = await vigil(['migrate', ...store]);
      assert.equal(second.code, 0);
      assert.match(second.stdout, /up to date \(version \d+\)/);
    });

    it('keys create, list and revoke', async () => {
      const created = await vigil(['keys', 'create', '--name', 'collector', '--scopes', 'ingest,read', '--rate-limit', '100', ...store]);
      assert.equal(created.code, 0, created.stderr);
      const key = /(vgl_\S+)/.exec(created.stdout)?.[1];
      assert.ok(key, created.stdout);
      assert.match(created.stdout, /scopes ingest, read/);
      const list = await vigil(['keys', 'list', '--json', ...store]);
      const keys = JSON.parse(list.stdout) as { name: string; scopes: string[]; rate_limit_per_minute: number; prefix: string }[];
      assert.deepEqual(keys.map((k) => [k.name, k.scopes, k.rate_limit_per_minute, k.prefix]), [['collector', ['ingest', 'read'], 100, key.slice(0, 10)]]);
      assert.ok(!list.stdout.includes(key));
      const table = await vigil(['keys', 'list', ...store]);
      assert.match(table.stdout, /^ID\s+NAME\s+KEY\s+SCOPES/);
      assert.match(table.stdout, /collector\s+vgl_\S+…\s+ingest,read\s+100\/min/);
      const revoked = await vigil(['keys', 'revoke', 'collector', ...store]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(revoked.stdout, /Revoked key "collector"/);
      assert.equal((await vigil(['keys', 'list', ...store])).stdout, 'no keys\n');
      const again = await vigil(['keys', 'revoke', 'collector', ...store]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /no active key has the id or name "collector"/);
      const bad = await vigil(['keys', 'create', '--name', 'x', '--scopes', 'root', ...store]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--scopes: unknown scope "root"/);
    });

    it('query and export read the store with the filters of the API', async () => {
      const h = await startHarness({ ...backend, setup: async () => ({ ...env, cleanup: async () => undefined }) });
      const ingest = await h.key(['ingest']);
      const events = [ev.created('cli-1', { id: uuidv7() }), ev.model('gpt-4', { id: uuidv7() }), ev.created('cli-2', { id: uuidv7(), description: 'line one\nline "two", three' })];
      assert.equal((await http(`${h.url}/v1/events`, { key: ingest, json: { events } })).status, 200);
      await h.close();

      const q = await vigil(['query', '--type', 'task_created', '--json', ...store]);
      assert.equal(q.code, 0, q.stderr);
      const page = JSON.parse(q.stdout) as { events: { id: string }[] };
      assert.deepEqual(page.events.map((e) => e.id), [events[2].id, events[0].id]);
      const t = await vigil(['query', '--model', 'gpt-4', ...store]);
      assert.match(t.stdout, /^TIME\s+LEVEL\s+TYPE\s+MESSAGE\n\S+\s+INFO\s+model_called\s+Model gpt-4 \(openai\) called/);
      const lim = await vigil(['query', '--limit', '1', ...store]);
      assert.match(lim.stderr, /more: --cursor \S+/);
      const bad = await vigil(['query', '--since', 'yesterday', ...store]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--since: expected an ISO 8601 time/);

      const file = join(env.dataDir, 'out.csv');
      const x = await vigil(['export', '--format', 'csv', '--order', 'asc', '--output', file, ...store]);
      assert.equal(x.code, 0, x.stderr);
      assert.match(x.stderr, /exported 3 events/);
      const csv = readFileSync(file, 'utf8');
      assert.ok(csv.startsWith('id,timestamp,level,event_type,message,log_metadata\r\n' + events[0].id));
      const nd = await vigil(['export', '--since', '1h', '--type', 'task_created', ...store]);
      assert.equal(nd.stdout.trim().split('\n').length, 2);
      assert.match(nd.stderr, /exported 2 events/);
    });

    it('tail prints recent events, then new ones as they arrive, until stopped', async () => {
      const ac = new AbortController();
      let seen = '';
      const waitFor = async (re: RegExp) => {
        while (!re.test(seen)) await new Promise((r) => setTimeout(r, 20));
      };
      const tail = vigil(['tail', '-n', '1', '--interval', '20', '--json', ...store], { signal: ac.signal, onStdout: (s) => (seen = s) });
      await waitFor(/cli-2/);
      // Another writer adds events while tail runs: possible on PostgreSQL only, as tail holds
      // the embedded store (next to a server, tail goes through it: see serve.test.ts).
      if (env.databaseUrl) {
        const s = await openTestStore(env);
        const { insertEvents } = await import('../../src/events/insertEvents.js');
        const { validateEvent } = await import('../../src/events/validate.js');
        const v = validateEvent(ev.created('tail-new'), Date.now());
        assert.ok(v.ok);
        await insertEvents(s, [v.row]);
        await s.close();
        await waitFor(/tail-new/);
      }
      ac.abort();
      const r = await tail;
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { log_metadata: { task_id?: string } });
      assert.equal(lines[0].log_metadata.task_id, 'cli-2');
      if (env.databaseUrl) assert.equal(lines[lines.length - 1].log_metadata.task_id, 'tail-new');
    });

    it('tail prints a row committed after newer ones once it commits, even one in flight as tail starts; filtered rows never', async (t) => {
      if (!env.databaseUrl) return t.skip('PGlite runs one transaction at a time: no late commits');
      // Two writers hold a transaction with one event each, out of seq order with the commits around them.
      const held = [new pg.Client({ connectionString: env.databaseUrl }), new pg.Client({ connectionString: env.databaseUrl })];
      await Promise.all(held.map((c) => c.connect()));
      const hold = async (c: pg.Client, hoursAgo: number, ...events: Record<string, unknown>[]) => {
        // Hours earlier, each its own: a held transaction takes no lock another writer needs (the hourly rollups).
        const at = Date.now() - hoursAgo * 3_600_000;
        await c.query('BEGIN');
        for (const e of events) {
          const v = validateEvent({ ...e, timestamp: new Date(at).toISOString() }, at);
          assert.ok(v.ok);
          const r = v.row;
          await c.query(`INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata) VALUES ($1, $2, $3, $4, $5, $6)`, [
            r.id, r.level, r.message, new Date(r.time).toISOString(), r.event_type, JSON.stringify(r.metadata),
          ]);
        }
      };
      const s = await openTestStore(env);
      const commit = async (...events: Record<string, unknown>[]) => {
        const rows = events.map((e) => {
          const v = validateEvent(e, Date.now());
          assert.ok(v.ok);
          return v.row;
        });
        await insertEvents(s, rows);
      };
      const ac = new AbortController();
      let seen = '';
      const waitFor = async (re: RegExp) => {
        const deadline = Date.now() + 20_000;
        while (!re.test(seen)) {
          assert.ok(Date.now() < deadline, `tail printed ${re} within 20 s; it printed:\n${seen}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      try {
        await hold(held[0], 3, ev.created('late-from-before'));
        await commit(ev.created('committed-before'));
        const tail = vigil(['tail', '-n', '1', '--type', 'task_created', '--interval', '20', '--json', ...store], { signal: ac.signal, onStdout: (o) => (seen = o) });
        await waitFor(/committed-before/);
        await hold(held[1], 5, ev.model('gpt-late-filtered-out'), ev.created('late-while-running'));
        await commit(ev.created('committed-after'), ev.model('gpt-filtered-out'));
        await waitFor(/committed-after/);
        assert.doesNotMatch(seen, /late-/, 'not committed yet');
        await Promise.all(held.map((c) => c.query('COMMIT')));
        await waitFor(/late-from-before[^]*late-while-running|late-while-running[^]*late-from-before/);
        await commit(ev.created('committed-last'));
        await waitFor(/committed-last/);
        ac.abort();
        const r = await tail;
        assert.equal(r.code, 0, r.stderr);
        const tasks = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { log_metadata: { task_id?: string; model_name?: string } }).log_metadata);
        assert.deepEqual(
          tasks.map((m) => m.task_id ?? m.model_name),
          ['committed-before', 'committed-after', ...tasks.slice(2, 4).map((m) => m.task_id), 'committed-last'],
        );
        assert.deepEqual(tasks.slice(2, 4).map((m) => m.task_id).sort(), ['late-from-before', 'late-while-running'], 'each late row once');
        assert.doesNotMatch(r.stdout, /gpt-/, 'model_called rows, late or not, are filtered out');
      } finally {
        ac.abort();
        await Promise.all(held.map((c) => c.end()));
        await s.close();
      }
    });

    it('tail says once that it cannot read the trail, keeps trying, and goes on where it was', async (t) => {
      if (!env.databaseUrl) return t.skip('tail holds the embedded store: nothing else can take the trail away');
      const admin = new pg.Client({ connectionString: env.databaseUrl });
      await admin.connect();
      const s = await openTestStore(env);
      const commit = async (task: string) => {
        const v = validateEvent(ev.created(task), Date.now());
        assert.ok(v.ok);
        await insertEvents(s, [v.row]);
      };
      const ac = new AbortController();
      let out = '';
      let err = '';
      const waitFor = async (what: () => string, re: RegExp) => {
        const deadline = Date.now() + 20_000;
        while (!re.test(what())) {
          assert.ok(Date.now() < deadline, `${re} within 20 s; stdout:\n${out}\nstderr:\n${err}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      try {
        await commit('before-tail');
        const tail = vigil(['tail', '-n', '1', '--interval', '20', '--json', ...store], { signal: ac.signal, onStdout: (o) => (out = o), onStderr: (e) => (err = e) });
        await waitFor(() => out, /before-tail/);
        await commit('before-outage');
        await waitFor(() => out, /before-outage/);
        await admin.query('ALTER TABLE logs RENAME TO logs_away');
        await waitFor(() => err, /vigil tail: reading new events failed; trying again \(relation "logs" does not exist\)\n/);
        await new Promise((r) => setTimeout(r, 200));
        await admin.query('ALTER TABLE logs_away RENAME TO logs');
        await commit('after-outage');
        await waitFor(() => out, /after-outage/);
        ac.abort();
        const r = await tail;
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr.split('\n').filter((l) => l.includes('reading new events failed')).length, 1, 'said once, not at every poll');
        assert.deepEqual(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { log_metadata: { task_id: string } }).log_metadata.task_id), ['before-tail', 'before-outage', 'after-outage']);
      } finally {
        ac.abort();
        await admin.query('ALTER TABLE IF EXISTS logs_away RENAME TO logs');
        await admin.end();
        await s.close();
      }
    });
  });
}

describe('CLI help and errors', () => {
  it('every command has a --help that exits 0 and names its options; errors are one clear line', async () => {
    const cases: [string[], RegExp][] = [
      [[], /serve.*\n.*migrate.*\n.*keys.*\n.*query.*\n.*tail.*\n.*export/s],
      [['serve'], /--host <host>.*--port <port>.*--data <dir>.*--database-url <url>/s],
      [['migrate'], /--data <dir>/],
      [['keys'], /create.*list.*revoke/s],
      [['keys', 'create'], /--name <name>.*--scopes <list>.*--rate-limit/s],
      [['keys', 'list'], /--all/],
      [['keys', 'revoke'], /<id-or-name>/],
      [["query"], /--json.*--type <event_type>.*--level <level>.*--since.*--task.*--user.*--agent.*--model.*--status.*--q <text>/s],
      [['tail'], /--lines <n>.*--interval <ms>/s],
      [['export'], /--format <format>.*--output <file>/s],
    ];
    for (const [cmd, re] of cases) {
      const r = await vigil([...cmd, '--help']);
      assert.equal(r.code, 0, cmd.join(' '));
      assert.match(r.stdout, re, cmd.join(' '));
    }
    const down = await vigil(['serve', '--port', '0', '--log-level', 'silent', '--database-url', 'postgres://vigil:secretpw@127.0.0.1:1/none']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot open postgres:\/\/vigil:\*\*\*\*@127\.0\.0\.1:1\/none: /);
    assert.doesNotMatch(down.stderr, /secretpw/);
    const badPort = await vigil(['serve', '--port', 'http']);
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /--port: expected an integer from 0 to 65535/);
    const unknown = await vigil(['frobnicate']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });
});
