import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
