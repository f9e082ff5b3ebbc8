import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findUserByToken } from '../../src/notifications/users.js';
import { BACKENDS, openTestStore, tempDir } from '../helpers/stores.js';
import { startServe, vigil } from '../cli/cli.js';
import { rmSync } from 'node:fs';
import { http, remainingHandles } from './harness.js';

for (const backend of BACKENDS) {
  describe(`vigil users on the ${backend.name} store`, { skip: backend.skip }, () => {
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

    it('creates users (printing a token once), lists them, and makes new tokens', async () => {
      const created = await vigil(['users', 'create', '--name', 'alice', ...store]);
      assert.equal(created.code, 0, created.stderr);
      const token = /(vgu_\S+)/.exec(created.stdout)?.[1];
      assert.ok(token, created.stdout);
      assert.match(created.stdout, /shown only this once/);
      const dup = await vigil(['users', 'create', '--name', 'alice', ...store]);
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /a user named "alice" exists/);
      const json = await vigil(['users', 'create', '--name', 'bob', '--json', ...store]);
      assert.match(String((JSON.parse(json.stdout) as { token: string }).token), /^vgu_/);

      const list = await vigil(['users', 'list', ...store]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^ID\s+NAME\s+CREATED/);
      assert.match(list.stdout, /alice/);
      assert.ok(!list.stdout.includes('vgu_'), 'tokens are never listed');
      const listed = JSON.parse((await vigil(['users', 'list', '--json', ...store])).stdout) as { name: string }[];
      assert.deepEqual(listed.map((u) => u.name), ['alice', 'bob']);

      const again = await vigil(['users', 'token', '--name', 'alice', ...store]);
      assert.equal(again.code, 0, again.stderr);
      const token2 = /(vgu_\S+)/.exec(again.stdout)?.[1];
      assert.ok(token2 && token2 !== token);
      const missing = await vigil(['users', 'token', '--name', 'nobody', ...store]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no user has the id or name "nobody"/);

      const db = await openTestStore(env);
      try {
        assert.equal((await findUserByToken(db, token))?.name, 'alice');
        assert.equal((await findUserByToken(db, token2))?.name, 'alice', 'both tokens work');
        assert.equal(await findUserByToken(db, 'vgu_nope'), null);
      } finally {
        await db.close();
      }
    });
  });
}

describe('vigil users through a running server holding the embedded database', () => {
  it('creates a user over the server’s API, and the token signs in there', async () => {
    const dir = tempDir();
    const server = await startServe(['--data', dir]);
    try {
      const created = await vigil(['users', 'create', '--name', 'dana', '--data', dir]);
      assert.equal(created.code, 0, created.stderr);
      const token = /(vgu_\S+)/.exec(created.stdout)![1];
      const list = await vigil(['users', 'list', '--json', '--data', dir]);
      assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((u) => u.name), ['dana']);
      const again = await vigil(['users', 'token', '--name', 'dana', '--data', dir]);
      assert.equal(again.code, 0, again.stderr);
      const inbox = await http(`${server.url}/v1/notifications`, { key: token });
      assert.equal(inbox.status, 200, inbox.text);
      assert.deepEqual(inbox.body, { notifications: [], next_cursor: null, unread_count: 0 });
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(await remainingHandles(), []);
  });
});
