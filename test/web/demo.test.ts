import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runDemo } from '../../src/cli/demo.js';
import { run } from '../../src/cli/program.js';
import { BACKENDS } from '../helpers/stores.js';
import { countLogs, startHarness, type Harness } from '../http/harness.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), env: {} } };
}

describe('vigil demo', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(BACKENDS[0]);
  });
  after(() => h.close());

  it('refuses to start without a key, or with a bad duration or URL', async () => {
    const a = io();
    assert.equal(await run(['demo'], a.io), 1);
    assert.match(a.err.join(''), /--api-key \(or VIGIL_API_KEY\) is required/);
    const b = io();
    assert.equal(await run(['demo', '--api-key', 'k', '--duration', '0'], b.io), 1);
    assert.match(b.err.join(''), /--duration: expected a positive number/);
    const c = io();
    assert.equal(await run(['demo', '--api-key', 'k', '--url', 'ftp://x'], c.io), 1);
    assert.match(c.err.join(''), /--url: expected an http\(s\) URL/);
  });

  it('says which scope it needs when the key cannot ingest', async () => {
    const key = await h.key(['read']);
    const a = io();
    assert.equal(await run(['demo', '--url', h.url, '--api-key', key, '--duration', '1'], a.io), 1);
    assert.match(a.err.join(''), /needs the "ingest" scope/);
  });

  it('posts a workload of every kind, each event stored once, and stops when aborted', async () => {
    const ac = new AbortController();
    const a = io();
    const timer = setTimeout(() => ac.abort(), 4_000);
    const s = await runDemo({ url: h.url, apiKey: h.adminKey, durationMs: 60_000, budget: false, seed: 3, io: a.io, signal: ac.signal });
    clearTimeout(timer);
    assert.equal(s.refused, 0, a.err.join(''));
    assert.ok(s.events > 20, `${s.events} events`);
    assert.equal(await countLogs(h.store), s.events);
    const { rows } = await h.store.query<{ t: string }>('SELECT DISTINCT event_type AS t FROM logs ORDER BY 1');
    const types = rows.map((r) => r.t);
    for (const t of ['task_created', 'model_called', 'agent_executed', 'cache_operation', 'task_failed', 'permission_denied']) assert.ok(types.includes(t), `${t} in ${types}`);
  });
});
