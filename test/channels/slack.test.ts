import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SendResult } from '../../src/channels/channel.js';
import { HttpClient } from '../../src/channels/http.js';
import { INTERVENTION_LEVELS } from '../../src/channels/levels.js';
import { mrkdwn, renderSlack, SLACK_COLORS, SLACK_LIMITS, SlackChannel, type SlackPayload } from '../../src/channels/slack.js';
import { HANG, type HttpPeer, type Scripted } from '../helpers/peers/httpPeer.js';
import { SLACK_HOOK_PATH, slackError, slackRateLimited, startSlackPeer } from '../helpers/peers/slack.js';
import { assertNoSecrets, assertResult, captureLogs, notification, testHttp, settledHandles, type Expect } from './fixtures.js';

type Block = { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: { url?: string }[] };

describe('Slack channel against a local Slack peer', () => {
  let peer: HttpPeer & { hookUrl: string };
  let http: HttpClient;
  let channel: SlackChannel;
  const logs = captureLogs();
  const results: SendResult[] = [];
  const target = () => ({ channel: 'slack', address: peer.hookUrl });

  before(async () => {
    peer = await startSlackPeer();
    http = testHttp();
    channel = new SlackChannel({ timeoutMs: 300, publicUrl: 'https://vigil.example.com/' }, { http, logger: logs.logger });
  });
  after(async () => {
    await channel.close();
    await http.close();
    await peer.close();
    assert.deepEqual(await settledHandles(), [], 'the test left sockets or servers open');
  });

  const table: [string, Scripted | undefined, Expect][] = [
    ['200 ok', undefined, { outcome: 'ok', status: 200 }],
    ['invalid_payload', slackError('invalid_payload'), { outcome: 'permanent', status: 400, error: /invalid_payload/ }],
    ['action_prohibited', slackError('action_prohibited'), { outcome: 'permanent', status: 403, error: /action_prohibited/ }],
    ['no_service', slackError('no_service'), { outcome: 'permanent', status: 404, targetGone: true }],
    ['channel_not_found', slackError('channel_not_found'), { outcome: 'permanent', status: 404, targetGone: true }],
    ['channel_is_archived', slackError('channel_is_archived'), { outcome: 'permanent', status: 410, targetGone: true }],
    ['no_active_hooks', slackError('no_active_hooks'), { outcome: 'permanent', status: 410, targetGone: true }],
    ['429 with Retry-After', slackRateLimited(30), { outcome: 'retryable', status: 429, retryAfterMs: 30_000 }],
    ['500 rollup_error', { status: 500, body: 'rollup_error' }, { outcome: 'retryable', status: 500, error: /rollup_error/ }],
    ['503', { status: 503, body: '' }, { outcome: 'retryable', status: 503 }],
    ['an unknown 4xx', { status: 418, body: 'teapot' }, { outcome: 'permanent', status: 418 }],
    ['a peer that never answers', HANG, { outcome: 'retryable', status: 'timeout' }],
  ];
  for (const [label, reply, expect] of table) {
    it(`${label} → ${expect.outcome}`, async () => {
      if (reply) peer.script(reply);
      const r = await channel.send(notification(), target());
      results.push(r);
      assertResult(r, expect, label);
    });
  }

  it('posts Block Kit in an attachment with the level colour bar', async () => {
    for (const level of INTERVENTION_LEVELS) {
      peer.reset();
      assert.equal((await channel.send(notification({ level, message: 'a <b> & c' }), target())).outcome, 'ok');
      assert.equal(peer.received[0].url, SLACK_HOOK_PATH);
      const body = JSON.parse(peer.received[0].body) as SlackPayload;
      assert.equal(body.text, `[${level}] Intervention Required for Task task_123`);
      const [att] = body.attachments;
      assert.equal(att.color, SLACK_COLORS[level]);
      const blocks = att.blocks as Block[];
      assert.equal(blocks[0].type, 'header');
      assert.equal(blocks[1].text?.text, 'a &lt;b&gt; &amp; c');
      assert.deepEqual(blocks[2].fields?.map((f) => f.text), [`*Level*\n${level}`, '*Task*\ntask_123', '*Reasons*\nERROR_THRESHOLD, COMPLIANCE_CHECK']);
      assert.equal(blocks.find((b) => b.type === 'actions')?.elements?.[0].url, 'https://vigil.example.com/interventions/int_0192a7b3');
    }
    assert.deepEqual(SLACK_COLORS, { INFO: '#36a64f', WARNING: '#ff9900', URGENT: '#ff6600', CRITICAL: '#ff0000' });
  });

  it('keeps to 50 blocks and 3000-character section text', () => {
    const context = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'x'.repeat(3000)]));
    const p = renderSlack(notification({ message: '<'.repeat(5000), title: 'T'.repeat(500), context }));
    const blocks = p.attachments[0].blocks as Block[];
    assert.equal(blocks.length, SLACK_LIMITS.blocks);
    assert.equal(blocks.at(-1)?.type, 'context', 'the footer is kept');
    assert.ok((blocks[0].text?.text.length ?? 0) <= SLACK_LIMITS.header);
    for (const b of blocks) {
      if (b.type === 'section' && b.text) assert.ok(b.text.text.length <= SLACK_LIMITS.sectionText);
      for (const f of b.fields ?? []) assert.ok(f.text.length <= SLACK_LIMITS.fieldText);
      assert.ok((b.fields?.length ?? 0) <= SLACK_LIMITS.sectionFields);
    }
    assert.ok(blocks[1].text!.text.endsWith('…') && !/&[a-z]*…$/.test(blocks[1].text!.text), 'no entity cut in half');
    assert.equal(mrkdwn('a&b', 10), 'a&amp;b');
  });

  it('no secret of the webhook URL appears in any result or log line', async () => {
    results.push(await channel.send(notification(), { channel: 'slack', address: 'http://127.0.0.1:1/services/T0000TEST/B0000TEST/xoxSecretHookToken123' }));
    assertNoSecrets(results, logs.lines, [peer.hookUrl, SLACK_HOOK_PATH, 'xoxSecretHookToken123', 'B0000TEST']);
    assert.equal(channel.mask(target()), `${peer.url}/services/T0…/****`);
  });
});
