/**
 * The outbox's assembly: the directory from config + environment + extra channels, receivers,
 * settings validation, the recorder's target levels / optional channels / exclusions, the
 * CHANNEL_FAILING intervention, gone targets, and extra channels through the worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Channel, ChannelTarget, Notification, SendResult } from '../../src/channels/channel.js';
import { generateVapidKeys } from '../../src/channels/push/index.js';
import { generateWebhookSecret } from '../../src/channels/webhook.js';
import { uuidv7 } from '../../src/events/uuid7.js';
import type { Delivery } from '../../src/interventions/deliveries.js';
import { StreamHub } from '../../src/http/stream/hub.js';
import { DEFAULT_ROUTES } from '../../src/interventions/routing.js';
import { Outbox } from '../../src/outbox/assemble.js';
import { buildDirectory } from '../../src/outbox/channelDirectory.js';
import { openChannelFailing, routesWithout, targetGoneHandler } from '../../src/outbox/health.js';
import { OutboxRecorder } from '../../src/outbox/recorder.js';
import { resolveDeliverySettings, resolveWorkerSettings } from '../../src/outbox/settings.js';
import { listDeliveries } from '../../src/outbox/sql.js';
import type { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/util/clock.js';
import { BACKENDS, openHandles, openTestStore, PG_SKIP } from '../helpers/stores.js';

const silent = pino({ level: 'silent' });
const HOOK = 'https://discord.com/api/webhooks/123456789/SeCrEtDiScOrDtOkEn';

/** A channel kept in memory, as the WebSocket hub or the inbox would be: it records what it got. */
class MemoryChannel implements Channel {
  readonly sent: { n: Notification; t: ChannelTarget }[] = [];
  constructor(readonly name: string) {}
  async send(n: Notification, t: ChannelTarget): Promise<SendResult> {
    this.sent.push({ n, t });
    return { outcome: 'ok', status: 'delivered', durationMs: 0.1 };
  }
  mask(t: ChannelTarget): string {
    return t.address === '*' ? '*' : 'user:****';
  }
}

function delivery(channel: string, level: Notification['level'] = 'WARNING', context: Record<string, unknown> = {}): Delivery {
  const id = uuidv7();
  const iid = uuidv7();
  return {
    id,
    intervention_id: iid,
    channel,
    route: channel,
    why: 'first_time',
    notification: { delivery_id: id, intervention_id: iid, task_id: 't', level, title: 'T', message: 'M', reasons: ['X'], context, timestamp: new Date().toISOString(), action_url: null },
  };
}

describe('the directory from config and environment', () => {
  it('builds the configured channels, the environment overriding, receivers over named targets, and extra channels', async () => {
    const secret = generateWebhookSecret();
    const extra = new Map([['in_app', { channel: new MemoryChannel('in_app'), targets: [{ channel: 'in_app', name: 'everyone', address: '*' }] }]]);
    const dir = buildDirectory({
      sections: {
        channels: {
          discord: { webhook_urls: ['https://discord.com/api/webhooks/1/file-token'] },
          webhook: { urls: [{ name: 'finance', url: 'https://finance.example.com/in' }, { name: 'audit', url: 'https://audit.example.com/in' }], secret },
          receivers: { finance_webhook: { channel: 'webhook', targets: ['finance'] } },
          max_attempts: { default: 5, sms: 2 },
          fallbacks: { discord: 'slack', 'critical:webhook': 'discord' },
        },
      },
      env: { DISCORD_WEBHOOK_URL: HOOK },
      extra,
    });
    try {
      assert.deepEqual(dir.names().sort(), ['discord', 'finance_webhook', 'in_app', 'webhook']);
      assert.deepEqual(dir.targets('discord').map((t) => t.address), [HOOK], 'the environment wins');
      assert.deepEqual(dir.targets('finance_webhook').map((t) => t.name), ['finance']);
      assert.equal(dir.channel('finance_webhook'), dir.channel('webhook'));
      assert.equal(dir.maxAttempts('sms'), 2);
      assert.equal(dir.maxAttempts('discord'), 5);
      assert.equal(dir.fallback('any', 'discord'), 'slack');
      assert.equal(dir.fallback('critical', 'webhook'), 'discord');
      assert.equal(dir.maskTarget('discord', 'discord-1'), 'https://discord.com/api/webhooks/12…/****');
      assert.equal(dir.maskTarget('in_app', 'everyone'), '*');
      assert.equal(dir.maskTarget('discord', 'gone'), '(not configured)');
      const summary = JSON.stringify(dir.summary());
      assert.ok(!summary.includes('SeCrEtDiScOrDtOkEn') && !summary.includes('finance.example.com/in'), summary);
    } finally {
      await dir.close();
    }
  });

  it('builds push from channels.push in snake_case, with its targets', async () => {
    const keys = generateVapidKeys();
    const sub = JSON.stringify({ endpoint: 'https://push.example.com/send/abc', keys: { p256dh: 'x', auth: 'y' } });
    const dir = buildDirectory({
      sections: {
        channels: {
          push: {
            ttl_seconds: 60,
            webpush: { subject: 'mailto:ops@example.com', vapid_public_key: keys.publicKey, vapid_private_key: keys.privateKey },
            targets: [{ name: 'laptop', address: sub, platform: 'webpush' }],
          },
        },
      },
      env: {},
    });
    try {
      assert.deepEqual(dir.names(), ['push']);
      assert.equal(dir.targets('push')[0].options?.platform, 'webpush');
      assert.ok(!dir.maskTarget('push', 'laptop').includes('/send/abc'));
      // The server's subscriptions sent through this same channel keep the configured targets beside them.
      const stored = { channel: 'push', name: 'sub-1', address: sub, options: { platform: 'webpush' } };
      dir.addExtra('push', { channel: dir.channel('push')!, targets: () => [stored] });
      assert.deepEqual(dir.targets('push').map((t) => t.name), ['laptop', 'sub-1']);
      // Another channel object replaces the configured one.
      dir.addExtra('push', { channel: new MemoryChannel('push'), targets: [stored] });
      assert.deepEqual(dir.targets('push').map((t) => t.name), ['sub-1']);
    } finally {
      await dir.close();
    }
  });

  it('names the option at fault, never its value', () => {
    assert.throws(() => buildDirectory({ sections: { channels: { receivers: { finance_webhook: { channel: 'webhook' } } } }, env: {} }), /channels\.receivers\.finance_webhook\.channel: no channel "webhook" is configured/);
    assert.throws(() => buildDirectory({ sections: { channels: { fallbacks: { discord: 'pager' } } }, env: {} }), /channels\.fallbacks\.discord: no channel "pager"/);
    assert.throws(() => buildDirectory({ sections: { channels: { push: { webpush: { subject: 'nope', vapid_private_key: 'SeCrEt' } } } }, env: {} }), (e: Error) => /channels\.push/.test(e.message) && !e.message.includes('SeCrEt'));
    assert.throws(() => resolveDeliverySettings({ max_attempts: 0 }), /channels\.max_attempts: must be a whole number from 1 to 1000/);
    assert.throws(() => resolveWorkerSettings({ concurency: 3 }), /worker\.concurency: is not an option/);
    assert.throws(() => resolveWorkerSettings({ enabled: 'yes' }), /worker\.enabled: must be true or false/);
    assert.deepEqual(
      { ...resolveWorkerSettings({ concurrency: 8, poll_interval_ms: 50 }, { VIGIL_WORKER_ENABLED: 'false' }) },
      { enabled: false, concurrency: 8, per_channel_concurrency: 32, poll_interval_ms: 50, lease_ms: 300_000, send_timeout_ms: 30_000, unhealthy_after: 5 },
    );
  });

  it('the failing channel is taken out of every route', () => {
    const routes = routesWithout([...DEFAULT_ROUTES, { name: 'both', channels: ['slack', 'discord'] }], 'slack');
    assert.ok(routes.every((r) => !r.channels.includes('slack')));
    assert.ok(!routes.some((r) => r.name === 'slack'), 'a route left without channels is dropped');
    assert.deepEqual(routes.find((r) => r.name === 'both')!.channels, ['discord']);
  });
});

for (const backend of BACKENDS) {
  describe(`the assembled outbox on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    before(async () => {
      env = await backend.setup();
      store = await openTestStore(env);
    });
    after(async () => {
      await store.close();
      await env.cleanup();
      assert.deepEqual(openHandles(), []);
    });

    it('records per target level, skips default channels not set up, records unknown ones dead, honours exclude_channels', async () => {
      const ws = new MemoryChannel('websocket');
      const extra = new Map([
        [
          'websocket',
          {
            channel: ws,
            targets: [
              { channel: 'websocket', name: 'all', address: '*' },
              { channel: 'websocket', name: 'urgent-only', address: 'u1', options: { levels: ['URGENT', 'CRITICAL'] } },
            ],
          },
        ],
      ]);
      const clock = new ManualClock();
      const outbox = new Outbox({ store, sections: {}, env: {}, log: silent, clock, extra, worker: true });
      try {
        const ds = [delivery('websocket'), delivery('sms'), delivery('finance_webhook'), delivery('websocket', 'INFO', { exclude_channels: ['websocket'] })];
        await store.transaction((tx) => outbox.recorder.record(tx, ds));
        const rows = async (d: Delivery) => listDeliveries(store, { intervention_id: d.intervention_id, limit: 10 });
        assert.deepEqual((await rows(ds[0])).map((r) => r.target), ['all'], 'WARNING does not reach an URGENT-only target');
        assert.equal((await rows(ds[1])).length, 0, 'sms of the default table is not set up: no row');
        const [unknown] = await rows(ds[2]);
        assert.equal(unknown.status, 'dead');
        assert.match(unknown.last_error ?? '', /channel finance_webhook is not configured/);
        assert.equal((await rows(ds[3])).length, 0, 'excluded');
        assert.equal(await outbox.worker!.runOnce(), 1);
        assert.equal(ws.sent.length, 1);
        assert.equal(ws.sent[0].n.delivery_id, ds[0].id);
        // A channel registered after the start is used from then on.
        const inbox = new MemoryChannel('in_app');
        outbox.register('in_app', { channel: inbox, targets: () => [{ channel: 'in_app', name: 'everyone', address: '*' }] });
        const late = delivery('in_app');
        await store.transaction((tx) => outbox.recorder.record(tx, [late]));
        await outbox.worker!.runOnce();
        assert.equal(inbox.sent.length, 1);
        assert.equal((await outbox.retry(late.id)).ok, false, 'a sent delivery is not retried');
      } finally {
        await outbox.close();
      }
    });

    it('a failing channel opens one URGENT intervention (source channel:<name>), never routed to it, also on repeats', async () => {
      const clock = new ManualClock();
      const recorder = new OutboxRecorder(
        { channel: (c) => (['slack', 'discord'].includes(c) ? ({} as Channel) : undefined), targets: (c) => [{ channel: c, name: 'x', address: 'x' }], maxAttempts: () => 3, fallback: () => undefined },
        clock,
      );
      const routes = () => [{ name: 'slack', channels: ['slack'] }, { name: 'discord', channels: ['discord'] }];
      const deps = { store, recorder, routes, clock, log: silent };
      const first = await openChannelFailing(deps, 'slack', { consecutive_failures: 5, last_error: 'HTTP 500' });
      assert.equal(first.created, true);
      assert.equal(first.intervention.source, 'channel:slack');
      assert.equal(first.intervention.level, 'URGENT');
      assert.deepEqual(first.intervention.reasons, ['CHANNEL_FAILING']);
      assert.deepEqual(first.decision.channels, ['discord']);
      const second = await openChannelFailing(deps, 'slack', { consecutive_failures: 5, last_error: 'HTTP 500' });
      assert.equal(second.created, false, 'one open intervention per channel');
      assert.equal(second.intervention.id, first.intervention.id);
      // A repeat (the service's routes include the failing channel): the context keeps it out.
      const repeat = { ...delivery('slack', 'URGENT', first.intervention.context), intervention_id: first.intervention.id };
      await store.transaction((tx) => recorder.record(tx, [repeat]));
      const rows = await listDeliveries(store, { intervention_id: first.intervention.id, limit: 10 });
      assert.deepEqual(rows.map((r) => r.channel), ['discord']);
    });

    it('a gone Web Push subscription is removed from push_subscriptions; a configured target is logged and counted', async () => {
      const { rows: has } = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE tablename = 'push_subscriptions'`);
      const dir = buildDirectory({ sections: { channels: { discord: { webhook_urls: [HOOK] } } }, env: {} });
      try {
        const handler = targetGoneHandler({ store, directory: dir, log: silent });
        await handler('discord', dir.targets('discord')[0]);
        if (Number(has[0].n) === 0) return;
        const uid = uuidv7();
        const endpoint = `https://push.example.com/send/${uid}`;
        await store.query(`INSERT INTO users (id, name) VALUES ($1, $2)`, [uid, `u-${uid}`]);
        await store.query(`INSERT INTO push_subscriptions (id, user_id, endpoint, subscription) VALUES ($1, $2, $3, $4)`, [uuidv7(), uid, endpoint, JSON.stringify({ endpoint })]);
        await handler('push', { channel: 'push', name: 'sub', address: JSON.stringify({ endpoint, keys: {} }), options: { platform: 'webpush' } });
        const { rows } = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM push_subscriptions WHERE endpoint = $1', [endpoint]);
        assert.equal(Number(rows[0].n), 0);
      } finally {
        await dir.close();
      }
    });
  });
}

describe('deliveries queued by one process wake the workers of the others (PostgreSQL)', { skip: PG_SKIP }, () => {
  it('a worker whose next poll is minutes away sends, at once, what another process queued or retried', async () => {
    const env = await BACKENDS[1].setup();
    // Two processes' worth of parts, each with its own pool and its own hub (its LISTEN connection).
    const stores = [await openTestStore(env), await openTestStore(env)];
    const hubs = stores.map((store) => new StreamHub({ store, log: silent }));
    const memo = new MemoryChannel('memo');
    const extra = () => new Map([['memo', { channel: memo, targets: [{ channel: 'memo', name: 'all', address: '*' }] }]]);
    // The server: queues, sends nothing. The worker: polls every 10 minutes.
    const server = new Outbox({ store: stores[0], sections: {}, env: {}, log: silent, extra: extra(), worker: false });
    const worker = new Outbox({ store: stores[1], sections: {}, env: {}, log: silent, extra: extra(), worker: true, workerSettings: { poll_interval_ms: 600_000 } });
    const sentWithin = async (n: number, what: string) => {
      const deadline = Date.now() + 10_000;
      while (memo.sent.length < n) {
        assert.ok(Date.now() < deadline, `${what} sent within 10 s, with the worker's next poll 10 minutes away`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await Promise.all(hubs.map((h) => h.start()));
      worker.wakeOnNotify(hubs[1]);
      worker.start();
      // Its first look found nothing; from now on only a notification can wake it in time.
      await new Promise((r) => setTimeout(r, 300));
      const d = delivery('memo');
      await stores[0].transaction((tx) => server.recorder.record(tx, [d]));
      await sentWithin(1, 'the delivery queued by the server');
      assert.equal(memo.sent[0].n.delivery_id, d.id);
      await until(async () => (await listDeliveries(stores[0], { intervention_id: d.intervention_id, limit: 1 }))[0].status === 'sent');
      // Sent, then put back by hand (`POST /v1/deliveries/{id}/retry` on the server).
      await stores[0].query(`UPDATE deliveries SET status = 'dead', dead_at = now() WHERE id = $1`, [d.id]);
      assert.equal((await server.retry(d.id)).ok, true);
      await sentWithin(2, 'the delivery retried on the server');
      assert.equal(memo.sent[1].n.delivery_id, d.id);
    } finally {
      await worker.close();
      await server.close();
      await Promise.all(hubs.map((h) => h.close()));
      await Promise.all(stores.map((s) => s.close()));
      await env.cleanup();
    }
  });
});

async function until(ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, 'within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}
