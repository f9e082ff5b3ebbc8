/**
 * `vigil deliveries list|show|retry`: directly on the store (both backends), and through the
 * running server that holds an embedded database. Targets are masked; secrets never printed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from '../helpers/stores.js';
import { DISCORD_HOOK_PATH, discordUnknownWebhook, startDiscordPeer } from '../helpers/peers/discord.js';
import type { HttpPeer } from '../helpers/peers/httpPeer.js';
import { startSlackPeer } from '../helpers/peers/slack.js';
import { http, remainingHandles } from '../http/harness.js';
import { peerChannels, startTestServer, until, writeConfig } from '../outbox/serverFixture.js';
import { vigil } from './cli.js';

const TOKEN = DISCORD_HOOK_PATH.split('/').pop()!;

interface Listed {
  deliveries: { id: string; channel: string; status: string; target: string; target_masked: string; attempts?: unknown[] }[];
  next_cursor: string | null;
}

for (const backend of BACKENDS) {
  describe(`vigil deliveries on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let discord: HttpPeer & { hookUrl: string };
    let slack: HttpPeer & { hookUrl: string };
    let config: string;
    let args: string[];
    let deadId: string;
    before(async () => {
      env = await backend.setup();
      discord = await startDiscordPeer();
      slack = await startSlackPeer();
      config = writeConfig(env.dataDir, { channels: peerChannels(discord.hookUrl, slack.hookUrl), worker: { poll_interval_ms: 50 } });
      args = ['--config', config, '--data', env.dataDir, ...(env.databaseUrl ? ['--database-url', env.databaseUrl] : [])];
      // A server sends two interventions (Discord refuses the first: dead), then stops.
      const server = await startTestServer(env, config);
      try {
        discord.script(discordUnknownWebhook());
        for (const t of ['c-1', 'c-2']) {
          const r = await http(`${server.url}/v1/interventions`, { key: server.firstAdminKey!, json: { level: 'WARNING', title: `CLI ${t}`, task_id: t } });
          assert.equal(r.status, 201);
        }
        await until(async () => {
          const { rows } = await server.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries WHERE status IN ('sent', 'dead')`);
          // Two interventions × Discord, Slack, the live stream and the in-app inbox.
          return rows[0].n === 8;
        }, 'eight deliveries done');
      } finally {
        await server.close();
      }
    });
    after(async () => {
      await Promise.all([discord.close(), slack.close()]);
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    it('lists deliveries with filters, masked, as a table and as JSON with attempts', async () => {
      const t = await vigil(['deliveries', 'list', ...args]);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, /^ID\s+CHANNEL\s+TARGET\s+STATUS\s+ATTEMPTS/);
      assert.match(t.stdout, /discord\s+ops http:\/\/127\.0\.0\.1:\d+\/api\/webhooks\/12…\/\*\*\*\*\s+dead\s+1\/10\s+404/);
      assert.ok(!t.stdout.includes(TOKEN));
      const j = await vigil(['deliveries', 'list', '--status', 'dead', '--attempts', '--json', ...args]);
      assert.equal(j.code, 0, j.stderr);
      const page = JSON.parse(j.stdout) as Listed;
      assert.equal(page.deliveries.length, 1);
      assert.equal(page.deliveries[0].channel, 'discord');
      assert.equal(page.deliveries[0].attempts!.length, 1);
      deadId = page.deliveries[0].id;
      const p1 = JSON.parse((await vigil(['deliveries', 'list', '--limit', '5', '--json', ...args])).stdout) as Listed;
      assert.equal(p1.deliveries.length, 5);
      const p2 = JSON.parse((await vigil(['deliveries', 'list', '--limit', '5', '--cursor', p1.next_cursor!, '--json', ...args])).stdout) as Listed;
      assert.equal(p2.deliveries.length, 3);
      assert.equal(p2.next_cursor, null);
      const bad = await vigil(['deliveries', 'list', '--status', 'lost', ...args]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /status: expected one of pending, sending, sent, dead/);
    });

    it('shows one delivery with its attempts, and retries a dead one (not a sent one)', async () => {
      const s = await vigil(['deliveries', 'show', deadId, ...args]);
      assert.equal(s.code, 0, s.stderr);
      assert.match(s.stdout, /#1 \S+ permanent 404/);
      const r = await vigil(['deliveries', 'retry', deadId, ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Queued delivery ${deadId} again \\(discord → ops http://127\\.0\\.0\\.1:\\d+/api/webhooks/12…/\\*\\*\\*\\*\\); up to 10 more attempts`));
      const sent = (JSON.parse((await vigil(['deliveries', 'list', '--status', 'sent', '--json', ...args])).stdout) as Listed).deliveries[0];
      const again = await vigil(['deliveries', 'retry', sent.id, ...args]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already sent/);
      const none = await vigil(['deliveries', 'retry', '0190f0c0-0000-7000-8000-000000000000', ...args]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no delivery/);
    });

    if (backend.name === 'embedded') {
      it('goes through the running server that holds the embedded database, whose worker sends the retry', async () => {
        const server = await startTestServer(env, config);
        try {
          const l = await vigil(['deliveries', 'list', '--status', 'pending', '--json', ...args]);
          assert.equal(l.code, 0, l.stderr);
          await until(async () => {
            const p = JSON.parse((await vigil(['deliveries', 'list', '--channel', 'discord', '--json', ...args])).stdout) as Listed;
            return p.deliveries.every((d) => d.status === 'sent');
          }, 'the retried delivery to be sent by the server');
          const r = await vigil(['deliveries', 'retry', deadId, ...args]);
          assert.equal(r.code, 1);
          assert.match(r.stderr, /the server at http:\/\/127\.0\.0\.1:\d+ .*answered 409/);
        } finally {
          await server.close();
        }
      });
    }
  });
}
