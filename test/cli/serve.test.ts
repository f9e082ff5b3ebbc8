import assert from 'node:assert/strict';
import { existsSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { uuidv7 } from '../../src/events/uuid7.js';
import { readLock } from '../../src/store/dataDirLock.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';
import { ev, http, remainingHandles } from '../http/harness.js';
import { startServe, vigil, type ServeChild } from './cli.js';

for (const backend of BACKENDS) {
  describe(`vigil serve on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let args: string[];
    before(async () => {
      env = await backend.setup();
      args = ['--data', env.dataDir, ...(env.databaseUrl ? ['--database-url', env.databaseUrl] : [])];
    });
    after(async () => {
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    it('prints its URL, the store and a first admin key; SIGTERM during ingest loses no acknowledged event', async () => {
      const server = await startServe(args);
      try {
        await ingestThroughSigterm(server);
      } finally {
        if (server.child.exitCode === null) server.child.kill('SIGKILL');
      }
    });
    async function ingestThroughSigterm(server: ServeChild) {
      assert.match(server.stdout(), backend.name === 'embedded' ? /Store: embedded database in / : /Store: postgres:\/\//);
      assert.ok(server.adminKey, 'a first start prints an admin key');
      const key = server.adminKey!;
      const acked = new Set<string>();
      let requests = 0;
      let stopped = false;
      let signalled = false;
      // Four clients post batches of 20 until the server stops answering.
      const client = async () => {
        while (!stopped) {
          const events = Array.from({ length: 20 }, (_, i) => ev.created(`sig-${i}`, { id: uuidv7() }));
          let r;
          try {
            r = await http(`${server.url}/v1/events`, { key, json: { events } });
          } catch {
            stopped = true; // connection refused or reset: the server is gone
            return;
          }
          requests++;
          if (r.status === 200) for (const e of events) acked.add(e.id as string);
          else if (r.status === 503) stopped = true;
          else assert.fail(`unexpected answer ${r.status}: ${r.text}`);
          if (requests >= 40 && !signalled) {
            signalled = true;
            server.child.kill('SIGTERM');
          }
        }
      };
      await Promise.all([client(), client(), client(), client()]);
      assert.equal(await server.exited, 0, server.stderr());
      assert.ok(acked.size >= 40 * 20 - 4 * 20, `acknowledged ${acked.size}`);
      const store = await openTestStore(env);
      try {
        const { rows } = await store.query<{ id: string }>('SELECT id FROM logs WHERE id = ANY($1::uuid[])', [[...acked]]);
        assert.equal(rows.length, acked.size, 'every acknowledged event is stored');
      } finally {
        await store.close();
      }
      if (backend.name === 'embedded') {
        assert.equal(existsSync(join(env.dataDir, 'cli.key')), false, 'the local key is removed at shutdown');
        assert.equal(readLock(env.dataDir), null, 'the lock is released');
      }
    }
  });
}

describe('CLI commands next to a running vigil serve (embedded store)', () => {
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

  it('records the URL in the lock and writes a local key readable by its owner only', () => {
    assert.equal(readLock(env.dataDir)?.url, server.url);
    assert.equal(readLock(env.dataDir)?.pid, server.child.pid);
    assert.equal(statSync(join(env.dataDir, 'cli.key')).mode & 0o777, 0o600);
  });

  it('keys, query, export and tail go through the server instead of opening the store', async () => {
    const list = await vigil(['keys', 'list', '--json', ...data]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((k) => k.name), ['admin']);
    const created = await vigil(['keys', 'create', '--name', 'agent', '--scopes', 'ingest', '--json', ...data]);
    assert.equal(created.code, 0, created.stderr);
    const key = (JSON.parse(created.stdout) as { key: string }).key;
    const id = uuidv7();
    assert.equal((await http(`${server.url}/v1/events`, { key, json: ev.created('through-server', { id }) })).status, 200);

    const q = await vigil(['query', '--task', 'through-server', '--json', ...data]);
    assert.equal(q.code, 0, q.stderr);
    assert.deepEqual((JSON.parse(q.stdout) as { events: { id: string }[] }).events.map((e) => e.id), [id]);
    const x = await vigil(['export', '--format', 'ndjson', ...data]);
    assert.equal(x.code, 0, x.stderr);
    assert.match(x.stdout, new RegExp(id));
    assert.match(x.stderr, /exported 1 events/);

    const ac = new AbortController();
    let seen = '';
    const tail = vigil(['tail', '--interval', '20', ...data], { signal: ac.signal, onStdout: (s) => (seen = s) });
    while (!/through-server/.test(seen)) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await http(`${server.url}/v1/events`, { key, json: ev.created('tailed-live') })).status, 200);
    while (!/tailed-live/.test(seen)) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    assert.equal((await tail).code, 0);

    const revoked = await vigil(['keys', 'revoke', 'agent', ...data]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await http(`${server.url}/v1/events`, { key, json: ev.created('after-revoke') })).status, 401);
  });

  it('migrate, and commands without the local key, stop with an error naming the server process', async () => {
    const m = await vigil(['migrate', ...data]);
    assert.equal(m.code, 1);
    assert.match(m.stderr, new RegExp(`in use by process ${server.child.pid} \\(vigil serve.*serves ${server.url.replace(/[.]/g, '\\.')}`));
    const second = await vigil(['serve', '--port', '0', ...data]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`in use by process ${server.child.pid}`));
    const keyFile = join(env.dataDir, 'cli.key');
    renameSync(keyFile, keyFile + '.moved');
    try {
      const k = await vigil(['keys', 'list', ...data]);
      assert.equal(k.code, 1);
      assert.match(k.stderr, new RegExp(`in use by process ${server.child.pid}`));
    } finally {
      renameSync(keyFile + '.moved', keyFile);
    }
  });

  it('once the server stops, commands open the store themselves', async () => {
    server.child.kill('SIGINT');
    assert.equal(await server.exited, 0);
    const list = await vigil(['keys', 'list', '--json', ...data]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((k) => k.name), ['admin']);
  });
});
