/**
 * Delivery end to end in the real server: an intervention opened over HTTP reaches a Discord and a
 * Slack peer through the server's own worker; deliveries and attempts over the API, retry, /metrics;
 * a failing channel opens its own intervention routed to the other channels; no secret in any answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerHandle } from '../../src/http/server.js';
import { BACKENDS } from '../helpers/stores.js';
import { DISCORD_HOOK_PATH, discordUnknownWebhook, startDiscordPeer } from '../helpers/peers/discord.js';
import type { HttpPeer } from '../helpers/peers/httpPeer.js';
import { SLACK_HOOK_PATH, startSlackPeer } from '../helpers/peers/slack.js';
import { peerChannels, startTestServer, until, writeConfig } from '../outbox/serverFixture.js';
import { http, remainingHandles } from './harness.js';

const DISCORD_TOKEN = DISCORD_HOOK_PATH.split('/').pop()!;
const SLACK_TOKEN = SLACK_HOOK_PATH.split('/').pop()!;

function noSecrets(text: string): void {
  for (const s of [DISCORD_TOKEN, SLACK_TOKEN, DISCORD_HOOK_PATH, SLACK_HOOK_PATH]) assert.ok(!text.includes(s), `a secret leaked: ${text.slice(0, 300)}`);
}

type D = Record<string, unknown> & { id: string; channel: string; status: string; attempts?: Record<string, unknown>[] };

for (const backend of BACKENDS) {
  describe(`deliveries through the server on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let discord: HttpPeer & { hookUrl: string };
    let slack: HttpPeer & { hookUrl: string };
    let server: ServerHandle;
    let key: string;
    let readKey: string;
    before(async () => {
      env = await backend.setup();
      discord = await startDiscordPeer();
      slack = await startSlackPeer();
      const path = writeConfig(env.dataDir, {
        channels: peerChannels(discord.hookUrl, slack.hookUrl, { max_attempts: { default: 4 } }),
        worker: { poll_interval_ms: 50, unhealthy_after: 3 },
      });
      server = await startTestServer(env, path);
      key = server.firstAdminKey!;
      const r = await http(`${server.url}/v1/keys`, { key, json: { name: 'reader', scopes: ['read'] } });
      readKey = r.body.key as string;
    });
    after(async () => {
      await server.close();
      await Promise.all([discord.close(), slack.close()]);
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    const open = async (body: Record<string, unknown>) => {
      const r = await http(`${server.url}/v1/interventions`, { key, json: body });
      assert.equal(r.status, 201, r.text);
      return (r.body.intervention as { id: string }).id;
    };
    const list = async (q: string, k = key) => {
      const r = await http(`${server.url}/v1/deliveries${q}`, { key: k });
      assert.equal(r.status, 200, r.text);
      noSecrets(r.text);
      return r.body as { deliveries: D[]; next_cursor: string | null };
    };

    it('sends an intervention opened over HTTP to Discord and Slack, and shows deliveries with attempts, masked', async () => {
      const id = await open({ level: 'WARNING', title: 'Refund needs review', message: 'Task t-1 wants a refund of $900', task_id: 't-1' });
      await until(() => discord.received.length >= 1 && slack.received.length >= 1, 'both peers to receive');
      assert.match(discord.received[0].body, /Refund needs review/);
      assert.match(slack.received[0].body, /Refund needs review/);
      const page = await until(async () => {
        const p = await list(`?intervention_id=${id}&attempts=true`, readKey);
        return p.deliveries.length === 4 && p.deliveries.every((d) => d.status === 'sent') ? p : null;
      }, 'every delivery sent');
      const byChannel = Object.fromEntries(page.deliveries.map((d) => [d.channel, d]));
      // The server's own channels (live stream, in-app inbox) take part; push has no subscription
      // and email/SMS are not configured: default-table channels without targets get no rows.
      assert.deepEqual(Object.keys(byChannel).sort(), ['discord', 'in_app', 'slack', 'websocket']);
      assert.equal(byChannel.discord.target, 'ops');
      assert.match(String(byChannel.discord.target_masked), /^http:\/\/127\.0\.0\.1:\d+\/api\/webhooks\/12…\/\*\*\*\*$/);
      assert.match(String(byChannel.slack.target_masked), /\/services\/T0…\/\*\*\*\*$/);
      assert.equal(byChannel.slack.attempts!.length, 1);
      assert.equal(byChannel.slack.attempts![0].outcome, 'ok');
      assert.equal(byChannel.slack.attempts![0].provider_status, '200');

      const one = await http(`${server.url}/v1/deliveries/${byChannel.discord.id}`, { key: readKey });
      assert.equal(one.status, 200);
      noSecrets(one.text);
      assert.equal((one.body.attempts as unknown[]).length, 1);

      const filtered = await list(`?channel=slack&status=sent`);
      assert.ok(filtered.deliveries.every((d) => d.channel === 'slack' && d.status === 'sent'));
      assert.ok(filtered.deliveries.every((d) => d.attempts === undefined), 'attempts only on request');

      const again = await http(`${server.url}/v1/deliveries/${byChannel.discord.id}/retry`, { key, method: 'POST' });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 40930);
      const forbidden = await http(`${server.url}/v1/deliveries/${byChannel.discord.id}/retry`, { key: readKey, method: 'POST' });
      assert.equal(forbidden.status, 403);
      const missing = await http(`${server.url}/v1/deliveries/0190f0c0-0000-7000-8000-000000000000`, { key });
      assert.equal(missing.status, 404);
      assert.equal((await http(`${server.url}/v1/deliveries?status=lost`, { key })).status, 400);
    });

    it('a dead delivery (Discord 404) is retried by hand and then sent; /metrics counts it', async () => {
      discord.script(discordUnknownWebhook());
      const id = await open({ level: 'INFO', title: 'Second', task_id: 't-2' });
      const dead = await until(async () => (await list(`?intervention_id=${id}&channel=discord`)).deliveries.find((d) => d.status === 'dead'), 'a dead delivery');
      assert.equal(dead.last_status, '404');
      noSecrets(String(dead.last_error));
      const respond = (await http(`${server.url}/v1/keys`, { key, json: { name: 'responder', scopes: ['respond'] } })).body.key as string;
      const r = await http(`${server.url}/v1/deliveries/${dead.id}/retry`, { key: respond, method: 'POST' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'pending');
      const sent = await until(async () => {
        const d = (await http(`${server.url}/v1/deliveries/${dead.id}`, { key })).body as D;
        return d.status === 'sent' ? d : null;
      }, 'the retried delivery to be sent');
      assert.deepEqual(sent.attempts!.map((a) => a.outcome), ['permanent', 'ok']);

      const metrics = (await http(`${server.url}/metrics`)).text;
      assert.match(metrics, /vigil_delivery_attempts_total\{channel="discord",outcome="ok"\} \d+/);
      assert.match(metrics, /vigil_delivery_attempts_total\{channel="discord",outcome="permanent"\} 1/);
      assert.match(metrics, /vigil_delivery_send_duration_seconds_bucket\{channel="slack",le="0.5",outcome="ok"\} \d+/);
      assert.match(metrics, /vigil_delivery_targets_gone_total\{channel="discord",removed="false"\} 1/);
      await server.outbox.metrics!.refresh();
      assert.match((await http(`${server.url}/metrics`)).text, /vigil_outbox_deliveries\{status="pending"\} \d+/);
    });

    it('a channel that keeps failing opens its own URGENT intervention, routed to the other channels only', async () => {
      slack.script({ status: 500 }, { status: 500 }, { status: 500 });
      discord.reset();
      for (let i = 0; i < 3; i++) await open({ level: 'INFO', title: `Flaky ${i}`, task_id: `flaky-${i}` });
      const alert = await until(async () => {
        const { rows } = await server.store.query<{ id: string; level: string; reasons: string[]; context: Record<string, unknown> }>(
          `SELECT id, level, reasons, context FROM interventions WHERE source = 'channel:slack'`,
        );
        return rows[0];
      }, 'the CHANNEL_FAILING intervention');
      assert.equal(alert.level, 'URGENT');
      assert.deepEqual(alert.reasons, ['CHANNEL_FAILING']);
      const deliveries = await until(async () => {
        const p = await list(`?intervention_id=${alert.id}`);
        return p.deliveries.length > 0 && p.deliveries.every((d) => d.status === 'sent') ? p.deliveries : null;
      }, 'the alert to be sent');
      assert.deepEqual(deliveries.map((d) => d.channel).sort(), ['discord', 'in_app', 'websocket'], 'routed elsewhere, never to slack');
      assert.ok(discord.received.some((r) => r.body.includes('slack keeps failing')));
    });
  });
}
