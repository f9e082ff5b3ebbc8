/**
 * `vigil worker`: a child process alone sends what a server (with no worker of its own) queued on
 * the same PostgreSQL, then stops gracefully on SIGTERM; on the embedded database it refuses while
 * a server holds it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BACKENDS, PG_SKIP } from '../helpers/stores.js';
import { startDiscordPeer } from '../helpers/peers/discord.js';
import type { HttpPeer } from '../helpers/peers/httpPeer.js';
import { startSlackPeer } from '../helpers/peers/slack.js';
import { http, remainingHandles } from '../http/harness.js';
import { peerChannels, startTestServer, until, writeConfig } from '../outbox/serverFixture.js';
import { vigil } from './cli.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('vigil worker', () => {
  let discord: HttpPeer & { hookUrl: string };
  let slack: HttpPeer & { hookUrl: string };
  before(async () => {
    discord = await startDiscordPeer();
    slack = await startSlackPeer();
  });
  after(async () => {
    await Promise.all([discord.close(), slack.close()]);
    assert.deepEqual(await remainingHandles(), []);
  });

  it('alone (a child process) delivers what a server queued on PostgreSQL, and stops on SIGTERM', { skip: PG_SKIP }, async () => {
    const env = await BACKENDS[1].setup();
    const path = writeConfig(env.dataDir, { channels: peerChannels(discord.hookUrl, slack.hookUrl), worker: { enabled: false } });
    const server = await startTestServer(env, path);
    try {
      assert.equal(server.outbox.worker, null, 'worker.enabled: false: the server queues only');
      const r = await http(`${server.url}/v1/interventions`, { key: server.firstAdminKey!, json: { level: 'URGENT', title: 'Queued for the worker', task_id: 'w-1' } });
      assert.equal(r.status, 201, r.text);
      const id = (r.body.intervention as { id: string }).id;
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(discord.received.length + slack.received.length, 0, 'nothing is sent without a worker');

      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker', '--config', path, '--database-url', env.databaseUrl!, '--log-level', 'warn'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      try {
        await until(() => /Outbox: worker \S+ \(channels: .*discord/.test(out), `the worker banner (${err})`, 20_000);
        await until(() => discord.received.length === 1 && slack.received.length === 1, 'both peers to receive', 20_000);
        const sent = await until(async () => {
          const p = (await http(`${server.url}/v1/deliveries?intervention_id=${id}&attempts=true`, { key: server.firstAdminKey! })).body as {
            deliveries: { channel: string; status: string; attempts: { worker: string }[] }[];
          };
          // Discord and Slack, plus the live stream and the in-app inbox (relayed to the server's clients).
          return p.deliveries.length === 4 && p.deliveries.every((d) => d.status === 'sent') ? p.deliveries : null;
        }, 'deliveries recorded as sent');
        assert.deepEqual(sent.map((d) => d.channel).sort(), ['discord', 'in_app', 'slack', 'websocket']);
        assert.ok(sent.every((d) => d.attempts.length === 1 && d.attempts[0].worker.includes(`:${child.pid}:`)), 'sent by the worker process');
        child.kill('SIGTERM');
        assert.equal(await exited, 0, err);
        assert.match(out, /Vigil worker stopped/);
        assert.ok(!err.includes('dIsCoRdSeCrEtToKeN') && !out.includes('dIsCoRdSeCrEtToKeN'), 'no secret in its output');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
      }
    } finally {
      await server.close();
      await env.cleanup();
    }
  });

  it('refuses the embedded database a server holds, with a clear message', async () => {
    const env = await BACKENDS[0].setup();
    const path = writeConfig(env.dataDir, { channels: peerChannels(discord.hookUrl, slack.hookUrl) });
    const server = await startTestServer(env, path);
    try {
      const r = await vigil(['worker', '--config', path, '--data', env.dataDir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /vigil worker needs PostgreSQL .* held by the server at http:\/\/127\.0\.0\.1:\d+ .*--database-url/);
    } finally {
      await server.close();
      await env.cleanup();
    }
  });

  it('drains the embedded database when no server holds it, until stopped', async () => {
    const env = await BACKENDS[0].setup();
    const path = writeConfig(env.dataDir, { channels: peerChannels(discord.hookUrl, slack.hookUrl), worker: { enabled: false, poll_interval_ms: 50 } });
    const server = await startTestServer(env, path);
    const r0 = await http(`${server.url}/v1/interventions`, { key: server.firstAdminKey!, json: { level: 'INFO', title: 'Left in the queue', task_id: 'w-2' } });
    assert.equal(r0.status, 201);
    await server.close();
    const before = slack.received.length;
    const ac = new AbortController();
    const run = vigil(['worker', '--config', path, '--data', env.dataDir, '--log-level', 'silent'], { signal: ac.signal });
    await until(() => slack.received.length > before, 'the queued delivery to be sent', 20_000);
    ac.abort();
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Vigil worker sending from embedded database/);
    assert.match(r.stdout, /Vigil worker stopped/);
    assert.match(slack.received[before].body, /Left in the queue/);
    await env.cleanup();
  });
});
