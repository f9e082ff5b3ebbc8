/**
 * Events on the live stream come from the trail: every writer's rows reach the subscribed clients
 * of every server, each once — rows posted to either server, rows the in-process SDK writes
 * straight to the database, and rows of a transaction that commits after higher seqs did.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { validateEvent } from '../../src/events/validate.js';
import { createKey } from '../../src/http/apiKeys.js';
import { buildApp, type VigilApp } from '../../src/http/app.js';
import { StreamHub } from '../../src/http/stream/hub.js';
import { createAuditLogger } from '../../src/index.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';
import { ev, http, remainingHandles } from './harness.js';
import { StreamClient, type Msg } from './streamClient.js';

const log = pino({ level: 'silent' });
const GAP_TIMEOUT_MS = 1_500;

for (const backend of BACKENDS) {
  const servers = backend.name === 'postgres' ? 2 : 1; // one process holds the embedded database
  describe(`events on the live stream, read from the trail, on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    const stores: Store[] = [];
    const hubs: StreamHub[] = [];
    const apps: VigilApp[] = [];
    const urls: string[] = [];
    const clients: StreamClient[] = [];
    let key: string;

    before(async () => {
      env = await backend.setup();
      for (let i = 0; i < servers; i++) {
        const store = await openTestStore(env);
        const hub = new StreamHub({ store, log, follow: { pollMs: 50, gapTimeoutMs: GAP_TIMEOUT_MS } });
        await hub.start();
        const app = await buildApp({ store, log, hub });
        await app.listen({ host: '127.0.0.1', port: 0 });
        const addr = app.server.address();
        urls.push(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
        stores.push(store);
        hubs.push(hub);
        apps.push(app);
      }
      key = (await createKey(stores[0], { name: 'agent', scopes: ['ingest', 'read'] })).key;
    });
    after(async () => {
      for (const c of clients) await c.close();
      for (const app of apps) await app.close();
      for (const hub of hubs) await hub.close();
      for (const s of stores) await s.close();
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });

    async function subscriber(server: number, label: string, filter: Record<string, unknown> = {}): Promise<StreamClient> {
      const c = await StreamClient.open(urls[server], label, key, { header: true });
      clients.push(c);
      await c.welcome();
      c.send({ type: 'subscribe', events: true, ...filter });
      await c.next((m) => m.type === 'subscribed');
      return c;
    }
    const eventsOf = (c: StreamClient, task: string) => c.messages.filter((m: Msg) => m.type === 'event' && (m.data?.metadata as { task_id?: string })?.task_id === task);
    async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
      const end = Date.now() + timeoutMs;
      while (!ok()) {
        if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const post = async (server: number, events: Record<string, unknown>[]) => {
      const r = await http(`${urls[server]}/v1/events`, { key, json: { events } });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      return (r.body.results as { id: string }[]).map((x) => x.id);
    };

    it('delivers every event posted to any server to the subscribers of every server, each once, and only what their filter asks', async () => {
      const all = await Promise.all(Array.from({ length: servers }, (_, s) => subscriber(s, `all@${s}`)));
      const models = await subscriber(0, 'models@0', { event_type: ['model_called'] });
      const ids: string[] = [];
      // Concurrent posts to every server: commits interleave, seqs are taken out of commit order.
      await Promise.all(
        Array.from({ length: servers * 4 }, async (_, k) => {
          const events = Array.from({ length: 25 }, (_, i) => (i % 5 === 0 ? ev.model('gpt-4', { task_id: 'fan' }) : ev.created('fan', { created_by: `u${k * 25 + i}` })));
          ids.push(...(await post(k % servers, events)));
        }),
      );
      for (const c of all) {
        await until(`${c.label} to receive ${ids.length} events`, () => eventsOf(c, 'fan').length >= ids.length);
        await c.sync();
        const got = eventsOf(c, 'fan').map((m) => m.data!.id as string);
        assert.equal(got.length, ids.length, `${c.label}: each event once`);
        assert.deepEqual([...got].sort(), [...ids].sort());
      }
      await until('the model_called events', () => eventsOf(models, 'fan').length >= ids.length / 5);
      await models.sync();
      assert.equal(eventsOf(models, 'fan').length, ids.length / 5);
      assert.ok(eventsOf(models, 'fan').every((m) => m.data!.event_type === 'model_called'));
      const one = eventsOf(all[0], 'fan')[0].data!;
      assert.deepEqual(Object.keys(one).sort(), ['event_type', 'id', 'level', 'message', 'metadata', 'timestamp']);
    });

    it('delivers events an in-process SDK writes straight to the database, which no server committed', { skip: backend.name === 'embedded' ? 'one process holds the embedded database' : false }, async () => {
      const c = await subscriber(servers - 1, 'sdk-watch');
      const logger = createAuditLogger({ databaseUrl: env.databaseUrl, logLine: false, spoolDir: join(env.dataDir, 'sdk-spool'), postgres: { poolSize: 2 } });
      const ids: string[] = [];
      try {
        for (let i = 0; i < 30; i++) {
          const r = logger.logTaskCreated({ task_id: 'sdk-live', task_type: 'x', created_by: `u${i}` });
          assert.ok(r.success);
          ids.push(r.id);
        }
        assert.equal(await logger.flush({ timeoutMs: 10_000 }), true);
      } finally {
        await logger.close();
      }
      await until('the SDK events', () => eventsOf(c, 'sdk-live').length >= ids.length);
      await c.sync();
      assert.deepEqual(eventsOf(c, 'sdk-live').map((m) => m.data!.id), ids, 'each once, in the order written');
    });

    it('delivers a row committed after higher seqs once it commits; a rolled-back hole is given up and the rows after it still come', { skip: backend.name === 'embedded' ? 'PGlite runs one transaction at a time: no late commits' : false }, async () => {
      const c = await subscriber(0, 'late-watch');
      const held = new pg.Client({ connectionString: env.databaseUrl });
      await held.connect();
      const insert = async (task: string) => {
        // Hours earlier: the held transaction takes no lock the other writers need (the hourly rollups).
        const at = Date.now() - 3 * 3_600_000;
        const v = validateEvent({ ...ev.created(task), timestamp: new Date(at).toISOString() }, at);
        assert.ok(v.ok);
        const r = v.row;
        await held.query(`INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata) VALUES ($1, $2, $3, $4, $5, $6)`, [
          r.id, r.level, r.message, new Date(r.time).toISOString(), r.event_type, JSON.stringify(r.metadata),
        ]);
        return r.id;
      };
      try {
        await held.query('BEGIN');
        const lateId = await insert('late');
        const after1 = await post(0, [ev.created('after-late')]);
        await until('the row after the hole', () => eventsOf(c, 'after-late').length === 1);
        assert.equal(eventsOf(c, 'late').length, 0, 'not committed yet');
        await held.query('COMMIT');
        await until('the late row', () => eventsOf(c, 'late').length === 1);
        assert.equal(eventsOf(c, 'late')[0].data!.id, lateId);
        assert.deepEqual(eventsOf(c, 'after-late').map((m) => m.data!.id), after1);

        const gaveUp = hubs[0].follower!.gaveUp;
        await held.query('BEGIN');
        await insert('rolled-back');
        await held.query('ROLLBACK');
        const after2 = await post(0, [ev.created('after-rollback')]);
        await until('the row after the rolled-back hole', () => eventsOf(c, 'after-rollback').length === 1);
        await until('the hole to be given up', () => hubs[0].follower!.gaveUp > gaveUp, GAP_TIMEOUT_MS + 5_000);
        await c.sync();
        assert.equal(eventsOf(c, 'rolled-back').length, 0);
        assert.deepEqual(eventsOf(c, 'after-rollback').map((m) => m.data!.id), after2);
        assert.equal(eventsOf(c, 'late').length, 1, 'still once');
      } finally {
        await held.end();
      }
    });

    it('follows the trail only while some client is subscribed to events, and from the end of the trail when it starts again', async () => {
      for (const c of clients.splice(0)) await c.close();
      await until('the followers to stop', () => hubs.every((h) => !h.follower!.active));
      await post(0, [ev.created('while-nobody-listens')]);
      const c = await subscriber(0, 'again');
      assert.ok(hubs[0].follower!.active);
      await post(0, [ev.created('after-resubscribe')]);
      await until('the new event', () => eventsOf(c, 'after-resubscribe').length === 1);
      await c.sync();
      assert.equal(eventsOf(c, 'while-nobody-listens').length, 0, 'the trail before the subscription is for the query API');
      c.send({ type: 'subscribe', events: false });
      await c.next((m) => m.type === 'subscribed' && m.events === false);
      await until('the follower to stop on unsubscribe', () => !hubs[0].follower!.active);
    });
  });
}
