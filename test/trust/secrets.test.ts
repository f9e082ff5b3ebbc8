/**
 * Secrets never leak: every channel is configured with recognisable secrets (webhook URLs with
 * tokens, Twilio's token and numbers, the SMTP password, the FCM service-account key, the APNs
 * key, the VAPID key, the webhook signing secret, API keys, a user token, the database password)
 * and a real `vigil serve` child runs at trace level while local peers answer 4xx and 5xx with
 * bodies echoing those secrets back. Then every log line, HTTP answer and CLI output is searched
 * for each secret — whole, URL-encoded, and any 12-character piece of it (a cut excerpt must not
 * keep half a token either).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { describeAnswer } from '../../src/channels/http.js';
import { excerpt, urlSecrets } from '../../src/channels/mask.js';
import { redact } from '../../src/channels/push/mask.js';
import { generateVapidKeys } from '../../src/channels/push/index.js';
import { generateWebhookSecret } from '../../src/channels/webhook.js';
import { ApnsPeer } from '../helpers/peers/apns.js';
import { FcmPeer, fcmErrorBody } from '../helpers/peers/fcm.js';
import { HttpPeer, type Received, type Reply } from '../helpers/peers/httpPeer.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/peers/smtp.js';
import { TEST_ACCOUNT_SID } from '../helpers/peers/twilio.js';
import { WebPushPeer } from '../helpers/peers/webpush.js';
import { BACKENDS } from '../helpers/stores.js';
import { http as request, remainingHandles, type Answer } from '../http/harness.js';
import { until, writeConfig } from '../outbox/serverFixture.js';
import { assertNoSecrets } from '../channels/fixtures.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const DISCORD_TOKEN = 'dIsCoRdLeAkToKeN_9f8e7d6c5b4a3210';
const SLACK_TOKEN = 'sLaCkLeAkToKeN_7q8w9e0r1t2y';
const WEBHOOK_PATH_TOKEN = 'wHpAtHtOkEn_55667788aabb';
const WEBHOOK_QUERY_TOKEN = 'wHqUeRyToKeN_77889900ccdd';
const WEBHOOK_USER_PASS = 'wHuSeRpAsS_99aabbccddee';
const WEBHOOK_SECRET = generateWebhookSecret();
const TWILIO_AUTH_TOKEN = 'tWiLiOlEaKaUtHtOkEn0123456789abcd';
const TWILIO_FROM = '+15005550006';
const SMS_TO = '+15557654321';
const SMTP_USER = 'vigil-smtp-leak-user';
const SMTP_PASS = 'sMtPpAsSwOrD_leak42/:@x';
const EMAIL_TO = 'oncall-leak@example.com';
const DB_PASSWORD = 'dBpAsSwOrD_leak77';
const VAPID = generateVapidKeys();
const APNS_DEVICE = 'a1b2c3d4e5f6a7b8'.repeat(4);
const FCM_DEVICE = 'fcmLeakRegistrationToken:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx';

/** Every long secret is also searched for by its 12-character pieces; shorter ones whole. */
const PIECE = 12;
const piecesOf = (s: string) => (s.length <= PIECE ? [s] : Array.from({ length: s.length - PIECE + 1 }, (_, i) => s.slice(i, i + PIECE)));

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `vigil <args>` as a child process, with only the given environment, logging at trace level. */
function vigil(args: string[], env: NodeJS.ProcessEnv): Promise<Cli> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1', VIGIL_LOG_LEVEL: 'trace', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

function collect(child: ChildProcess): Promise<Cli> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

interface Served {
  url: string;
  adminKey: string;
  banner: () => string;
  logs: () => string;
  stop(): Promise<Cli>;
}

/** `vigil serve --log-level trace` as a child; resolves once its banner is complete. */
function serve(args: string[], env: NodeJS.ProcessEnv): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'trace', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const url = /Vigil listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url && /API reference: \S+\n/.test(out)) {
        resolve({
          url,
          adminKey: /(vgl_\S+)/.exec(out)![1],
          banner: () => out,
          logs: () => err,
          stop: async () => {
            child.kill('SIGTERM');
            const code = await exited;
            return { code, stdout: out, stderr: err };
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`vigil serve exited (${code}) before listening:\n${out}\n${err}`)));
  });
}

/** A peer that answers every request with an error: first a 5xx echoing the request and the secrets, then a 4xx cutting a secret at the 200-character excerpt limit. */
async function echoPeer(answers: { retryable: (req: Received) => Reply; permanent: (req: Received) => Reply }): Promise<HttpPeer> {
  let n = 0;
  return HttpPeer.start((req) => (++n % 2 === 1 ? answers.retryable(req) : answers.permanent(req)));
}

/** `pad` characters then `secret`: a 200-character excerpt that starts `prefix` characters earlier ends inside the secret. */
const straddle = (secret: string, prefix = 0) => `${'x'.repeat(200 - prefix - 14)}${secret} and more`;

interface Peers {
  discord: HttpPeer;
  slack: HttpPeer;
  twilio: HttpPeer;
  webhook: HttpPeer;
  smtp: SmtpPeer;
  webpush: WebPushPeer;
  fcm: FcmPeer;
  apns: ApnsPeer;
}

describe('provider answers quoting secrets back, in one error line', () => {
  const url = `https://hook:${WEBHOOK_USER_PASS}@hooks.example.com/in/${WEBHOOK_PATH_TOKEN}`;

  it('is redacted whole before it is cut to its 200 characters, so no piece of a secret survives the cut', () => {
    const r = urlSecrets(url);
    for (let pad = 170; pad < 200; pad++) {
      const body = `${'x'.repeat(pad)}${WEBHOOK_PATH_TOKEN} tail`;
      const texts = [describeAnswer({ status: 400, headers: {}, body }, r), describeAnswer({ status: 400, headers: {}, body: '' }, r, body), excerpt(body, r)];
      assertNoSecrets([], texts, piecesOf(WEBHOOK_PATH_TOKEN));
    }
  });

  it('cuts a long answer at its 200 characters without splitting a character made of two UTF-16 units, and has no NUL', () => {
    const r = urlSecrets(url);
    for (const pad of [198, 199, 200]) {
      const body = `${'x'.repeat(pad)}\u{1F525}\u{1F525} tail`;
      const out = describeAnswer({ status: 502, headers: {}, body }, r);
      assert.ok(out.isWellFormed(), `no unpaired surrogate (pad ${pad}): ${JSON.stringify(out.slice(-4))}`);
      assert.ok(out.endsWith('…'));
      assert.ok(out.length <= 'HTTP 502: '.length + 201);
    }
    assert.equal(describeAnswer({ status: 502, headers: {}, body: 'bin\0ary' }, r), 'HTTP 502: bin\uFFFDary', 'no NUL, which PostgreSQL cannot store');
  });

  it('masks the Basic credential node sends for a URL\'s user:password, and any quoted Authorization', () => {
    const basic = Buffer.from(`hook:${WEBHOOK_USER_PASS}`).toString('base64');
    const out = describeAnswer({ status: 401, headers: {}, body: `denied: Authorization: Basic ${basic}; also Bearer abc.def-123456789` }, urlSecrets(url));
    assert.equal(out, 'HTTP 401: denied: Authorization: Basic ****; also Bearer ****');
    assert.equal(describeAnswer({ status: 401, headers: {}, body: 'Basic authentication required' }, urlSecrets(url)), 'HTTP 401: Basic authentication required');
  });

  it('removes a quoted line of a PEM key (push providers)', () => {
    const pem = generateVapidKeys().privateKey;
    const key = `-----BEGIN PRIVATE KEY-----\n${'A1b2C3d4'.repeat(8)}\n${'E5f6G7h8'.repeat(8)}\n-----END PRIVATE KEY-----\n`;
    assert.equal(redact(`bad key line ${'E5f6G7h8'.repeat(8)} and ${pem}`, [key, pem]), 'bad key line **** and ****');
  });
});

for (const backend of BACKENDS) {
  describe(`no secret leaks from a running vigil serve on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let peers: Peers;
    let subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
    let childEnv: NodeJS.ProcessEnv;
    let args: string[];
    let config: string;
    const secrets: string[] = [];
    const basicAuth = Buffer.from(`${TEST_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64');
    /** Everything a person or a log collector would see: [where, text]. */
    const seen: [string, string][] = [];
    const look = (where: string, text: string) => seen.push([where, text]);
    const lookAt = (where: string, a: Answer) => look(`${where} → ${a.status}`, `${JSON.stringify(Object.fromEntries(a.headers))}\n${a.text}`);

    before(async () => {
      env = await backend.setup();
      const discordUrlOf = (base: string) => `${base}/api/webhooks/112233445566778899/${DISCORD_TOKEN}`;
      const slackUrlOf = (base: string) => `${base}/services/T0LEAK/B0LEAK/${SLACK_TOKEN}`;
      peers = {
        discord: await echoPeer({
          retryable: (req) => ({ status: 503, body: { message: `Invalid Webhook Token ${req.url} ${DISCORD_TOKEN}`, code: 50027 } }),
          permanent: () => ({ status: 401, body: { message: straddle(DISCORD_TOKEN, 'Discord error 50027: '.length), code: 50027 } }),
        }),
        slack: await echoPeer({
          retryable: (req) => ({ status: 500, body: `invalid_token ${req.url} token=${SLACK_TOKEN}` }),
          permanent: () => ({ status: 403, body: straddle(SLACK_TOKEN) }),
        }),
        twilio: await echoPeer({
          retryable: (req) => ({
            status: 503,
            body: { code: 20500, message: `${TWILIO_AUTH_TOKEN} ${req.headers.authorization} To ${SMS_TO} From ${TWILIO_FROM} ${req.url} ${req.body}`, status: 503 },
          }),
          permanent: (req) => ({ status: 401, body: { code: 20003, message: straddle(TWILIO_AUTH_TOKEN, 'Twilio error 20003: '.length) + req.body, status: 401 } }),
        }),
        webhook: await echoPeer({
          retryable: (req) => ({ status: 502, body: { error: `${WEBHOOK_SECRET} signed ${String(req.headers['webhook-signature'])} at ${req.url} by ${req.headers.authorization}` } }),
          permanent: () => ({ status: 400, body: straddle(WEBHOOK_SECRET) }),
        }),
        smtp: await startSmtpPeer({ auth: { user: SMTP_USER, pass: SMTP_PASS } }),
        webpush: await WebPushPeer.start({ vapidPublicKey: VAPID.publicKey }),
        fcm: await FcmPeer.start(),
        apns: await ApnsPeer.start(),
      };
      subscription = peers.webpush.subscribe();
      const fcmKeyLines = peers.fcm.serviceAccount.private_key.split('\n').filter((l) => l && !l.startsWith('-----'));
      const apnsKeyLines = peers.apns.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
      for (let i = 0; i < 6; i++) {
        peers.webpush.answer(
          { status: 503, body: `${subscription.endpoint} ${subscription.keys.auth} ${subscription.keys.p256dh} ${VAPID.privateKey}` },
          { status: 400, body: straddle(VAPID.privateKey, 60) },
        );
        peers.fcm.answer(
          { status: 503, body: fcmErrorBody(503, 'UNAVAILABLE', null, `${FCM_DEVICE} ${fcmKeyLines[3]}`) },
          { status: 400, body: fcmErrorBody(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', `The registration token ${FCM_DEVICE} is not valid ${peers.fcm.serviceAccount.private_key}`) },
        );
        peers.apns.answer({ status: 503, reason: `ServiceUnavailable ${APNS_DEVICE}` }, { status: 400, reason: `BadDeviceToken ${APNS_DEVICE} ${apnsKeyLines[1]}` });
        // Only the probe's own message (the failing-channel alerts, also email, come in between).
        peers.smtp.script(
          { phase: 'data', subject: /leak-1/, code: 451, message: `4.7.1 <${EMAIL_TO}> greylisted for ${SMTP_USER}:${SMTP_PASS}` },
          { phase: 'data', subject: /leak-1/, code: 550, message: `5.1.1 <${EMAIL_TO}>: rejected (${SMTP_PASS})` },
          // And `vigil notify test --channel email`, later.
          { phase: 'data', subject: /Vigil test notification/, code: 550, message: `5.7.1 <${EMAIL_TO}>: refused for ${SMTP_USER}:${SMTP_PASS}` },
        );
      }

      const webhookUrl = `${peers.webhook.url.replace('://', `://hook:${WEBHOOK_USER_PASS}@`)}/hooks/${WEBHOOK_PATH_TOKEN}?token=${WEBHOOK_QUERY_TOKEN}`;
      config = writeConfig(env.dataDir, {
        channels: {
          allow_outbound: ['127.0.0.1'],
          max_attempts: 2,
          public_url: 'https://vigil.example.com',
          discord: { webhook_urls: [{ name: 'ops', url: discordUrlOf(peers.discord.url) }] },
          slack: { webhook_urls: [{ name: 'team', url: slackUrlOf(peers.slack.url) }] },
          webhook: { urls: [{ name: 'partner', url: webhookUrl }] },
          email: { from: 'Vigil <vigil@example.com>', to: [{ name: 'oncall', address: EMAIL_TO }], tls_reject_unauthorized: false },
          push: {
            allow_http: true,
            timeout_ms: 5000,
            webpush: { subject: 'mailto:ops@example.com', vapid_public_key: VAPID.publicKey, vapid_private_key: VAPID.privateKey },
            fcm: { service_account: peers.fcm.serviceAccount, base_url: peers.fcm.url },
            apns: { team_id: peers.apns.teamId, key_id: peers.apns.keyId, private_key: peers.apns.privateKey, topic: peers.apns.topic, base_url: peers.apns.url },
            targets: [
              { name: 'laptop', address: JSON.stringify(subscription), platform: 'webpush' },
              { name: 'android', address: FCM_DEVICE, platform: 'fcm' },
              { name: 'iphone', address: APNS_DEVICE, platform: 'apns' },
            ],
          },
        },
        interventions: { routes: [{ name: 'everything', channels: ['email', 'slack', 'discord', 'sms', 'webhook', 'push', 'in_app', 'websocket'] }] },
        // Two failures in a row open a CHANNEL_FAILING intervention whose message quotes the last
        // (masked) error, routed to the other channels: one provider's secret must not reach another.
        worker: { poll_interval_ms: 50, unhealthy_after: 2 },
      });
      // Credentials from the environment, as in production.
      childEnv = {
        SMTP_URL: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASS)}@127.0.0.1:${peers.smtp.port}`,
        TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN,
        TWILIO_PHONE_NUMBER: TWILIO_FROM,
        TWILIO_API_BASE: peers.twilio.url,
        ALERT_SMS_TO: SMS_TO,
        WEBHOOK_SECRET,
      };
      if (env.databaseUrl) {
        const u = new URL(env.databaseUrl);
        // The test server trusts local connections: the password is carried, not checked.
        u.password = DB_PASSWORD;
        childEnv.DATABASE_URL = u.toString();
      }
      args = ['--config', config, '--data', env.dataDir];

      for (const s of [
        DISCORD_TOKEN,
        SLACK_TOKEN,
        WEBHOOK_PATH_TOKEN,
        WEBHOOK_QUERY_TOKEN,
        WEBHOOK_USER_PASS,
        WEBHOOK_SECRET,
        TWILIO_AUTH_TOKEN,
        basicAuth,
        SMTP_PASS,
        DB_PASSWORD,
        VAPID.privateKey,
        new URL(subscription.endpoint).pathname.split('/').pop()!,
        subscription.keys.auth,
        FCM_DEVICE,
        APNS_DEVICE,
      ]) {
        secrets.push(...piecesOf(s));
      }
      secrets.push(TEST_ACCOUNT_SID, TWILIO_FROM, TWILIO_FROM.slice(1), SMS_TO, SMS_TO.slice(1), SMTP_USER, EMAIL_TO, subscription.keys.p256dh, ...fcmKeyLines, ...apnsKeyLines);
    });

    after(async () => {
      await Promise.all(Object.values(peers).map((p: { close(): Promise<void> }) => p.close()));
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    it('a start that cannot reach the database names it with the password masked', async () => {
      const r = await vigil(['serve', '--port', '0', '--config', config, '--data', env.dataDir, '--database-url', `postgres://vigil:${DB_PASSWORD}@127.0.0.1:1/vigil`], childEnv);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /127\.0\.0\.1:1/);
      look('failed start (stdout)', r.stdout);
      look('failed start (stderr)', r.stderr);
    });

    it('serves, delivers to failing peers, answers the API and the CLI, and stops: no secret anywhere', { timeout: 180_000 }, async () => {
      const server = await serve(args, childEnv);
      let stopped: Cli | undefined;
      const apiKeys: string[] = [server.adminKey];
      try {
        assert.match(server.banner(), /outbox/i);
        const key = server.adminKey;
        // The server's own key for the local CLI (embedded database): a secret too.
        if (!env.databaseUrl) apiKeys.push(readFileSync(join(env.dataDir, 'cli.key'), 'utf8').trim());

        // A user (for the inbox) and an ingest key, each shown once by the command that makes it.
        const user = await vigil(['users', 'create', '--name', 'alice', '--json', ...args], childEnv);
        assert.equal(user.code, 0, user.stderr);
        const userToken = (JSON.parse(user.stdout) as { token: string }).token;
        look('users create (stderr)', user.stderr);
        const made = await vigil(['keys', 'create', '--name', 'collector', '--scopes', 'ingest', ...args], childEnv);
        assert.equal(made.code, 0, made.stderr);
        const collectorKey = /(vgl_\S+)/.exec(made.stdout)![1];
        apiKeys.push(collectorKey, userToken);
        look('keys create (stderr)', made.stderr);
        look('keys create (stdout, without the key shown once)', made.stdout.replace(collectorKey, '<shown once>'));
        look('users create (stdout, without the token shown once)', user.stdout.replace(userToken, '<shown once>'));

        // An intervention for every channel: each peer refuses, first retryably, then for good.
        const created = await request(`${server.url}/v1/interventions`, { key, json: { level: 'CRITICAL', title: 'Leak probe', task_id: 'leak-1', message: 'probe' } });
        assert.equal(created.status, 201, created.text);
        lookAt('POST /v1/interventions', created);
        const interventionId = (created.body.intervention as { id: string }).id;
        type Listed = { id: string; intervention_id: string; channel: string; status: string; attempt_count: number; last_error: string | null };
        const settled = () =>
          until(
            async () => {
              const r = await request(`${server.url}/v1/deliveries?attempts=true&limit=500`, { key });
              const ds = r.body.deliveries as Listed[];
              const ours = ds.filter((d) => d.intervention_id === interventionId);
              const others = ds.filter((d) => d.intervention_id !== interventionId);
              return ours.length === 10 && others.length > 0 && ds.every((d) => d.status === 'dead' || d.status === 'sent') ? r : null;
            },
            'every delivery dead or sent, the failing channels reported',
            90_000,
          );
        await settled();
        // The failing-channel interventions opened while the last ones were sent: let those settle too.
        await new Promise((r) => setTimeout(r, 1500));
        const done = await settled();
        lookAt('GET /v1/deliveries?attempts=true', done);
        const all = done.body.deliveries as Listed[];
        const deliveries = all.filter((d) => d.intervention_id === interventionId);
        const failed = deliveries.filter((d) => !['in_app', 'websocket'].includes(d.channel));
        assert.equal(failed.length, 8);
        for (const d of failed) {
          assert.equal(d.status, 'dead', `${d.channel}: ${d.last_error}`);
          assert.equal(d.attempt_count, 2, `${d.channel}: a retryable answer, then a permanent one (${d.last_error})`);
        }
        for (const d of deliveries) lookAt(`GET /v1/deliveries/${d.channel}`, await request(`${server.url}/v1/deliveries/${d.id}`, { key }));
        const answers: [string, Answer][] = [
          ['POST /v1/deliveries/:id/retry', await request(`${server.url}/v1/deliveries/${failed[0].id}/retry`, { key, method: 'POST' })],
          ['GET /v1/interventions/:id', await request(`${server.url}/v1/interventions/${interventionId}`, { key })],
          ['GET /v1/interventions', await request(`${server.url}/v1/interventions`, { key })],
          ['GET /v1/keys', await request(`${server.url}/v1/keys`, { key })],
          ['GET /v1/users', await request(`${server.url}/v1/users`, { key })],
          ['GET /v1/notifications (user)', await request(`${server.url}/v1/notifications`, { key: userToken })],
          ['GET /v1/push/vapid-public-key', await request(`${server.url}/v1/push/vapid-public-key`, { key })],
          ...(await Promise.all(['/metrics', '/healthz', '/docs/json'].map(async (p): Promise<[string, Answer]> => [`GET ${p}`, await request(`${server.url}${p}`)]))),
        ];
        for (const [what, a] of answers) {
          assert.ok(a.status < 300, `${what}: ${a.status} ${a.text.slice(0, 300)}`);
          lookAt(what, a);
        }
        // Error answers: a wrong key, a key with too few scopes, bad input, an unknown route.
        const errors: [string, Answer][] = [
          ['wrong key', await request(`${server.url}/v1/deliveries`, { key: `${collectorKey.slice(0, -4)}AAAA` })],
          ['wrong user token', await request(`${server.url}/v1/notifications`, { key: `${userToken.slice(0, -4)}AAAA` })],
          ['key without the scope', await request(`${server.url}/v1/deliveries`, { key: collectorKey })],
          ['bad filter', await request(`${server.url}/v1/deliveries?status=${encodeURIComponent(SLACK_TOKEN)}`, { key })],
          ['unknown route', await request(`${server.url}/v1/config`, { key })],
          ['bad body', await request(`${server.url}/v1/interventions`, { key, body: '{"level": ', headers: { 'content-type': 'application/json' } })],
          ['unknown delivery', await request(`${server.url}/v1/deliveries/0190f0c0-0000-7000-8000-000000000000`, { key })],
        ];
        for (const [what, a] of errors) {
          assert.ok(a.status >= 400, what);
          lookAt(`error answer: ${what}`, a);
        }

        // The CLI, against the same store (through this server on the embedded database).
        const cli: [string, string[]][] = [
          ['deliveries list', ['deliveries', 'list', ...args]],
          ['deliveries list --attempts --json', ['deliveries', 'list', '--attempts', '--json', ...args]],
          ['deliveries show', ['deliveries', 'show', failed[1].id, ...args]],
          ['keys list', ['keys', 'list', ...args]],
          ['keys list --json', ['keys', 'list', '--json', ...args]],
          ['users list', ['users', 'list', ...args]],
          ...['email', 'slack', 'discord', 'sms', 'webhook', 'push'].map((c): [string, string[]] => [`notify test ${c}`, ['notify', 'test', '--channel', c, '--config', config]]),
          ['notify test push --json', ['notify', 'test', '--channel', 'push', '--json', '--config', config]],
        ];
        for (const [what, argv] of cli) {
          const r = await vigil(argv, childEnv);
          if (what.startsWith('notify')) {
            assert.equal(r.code, 1, `${what}: every peer refuses\n${r.stdout}\n${r.stderr}`);
            assert.match(r.stdout, /(retryable|permanent)/, what);
          } else assert.equal(r.code, 0, `${what}: ${r.stderr}`);
          look(`vigil ${what} (stdout)`, r.stdout);
          look(`vigil ${what} (stderr)`, r.stderr);
        }
      } finally {
        stopped = await server.stop();
      }
      assert.equal(stopped.code, 0, stopped.stderr.slice(-2000));
      look('vigil serve banner (without the admin key shown once)', stopped.stdout.replace(server.adminKey, '<shown once>'));
      look('vigil serve logs', stopped.stderr);

      // The logs are the trace level's: the channels' debug lines are among them.
      assert.match(stopped.stderr, /"level":20/, 'debug lines were written');
      assert.match(stopped.stderr, /notification not sent/);
      for (const name of ['slack', 'discord', 'sms', 'webhook', 'email', 'push']) assert.match(stopped.stderr, new RegExp(`"channel":"${name}"`), name);

      const texts = seen.map(([where, text]) => `[${where}]\n${text}`);
      assertNoSecrets([], texts, [...secrets, ...apiKeys]);
      assert.match(texts.join('\n'), /keeps failing/, 'the failing-channel interventions were opened');

      // What each provider received: its own target in the body where its protocol needs it, no other secret.
      const phones = [SMS_TO, SMS_TO.slice(1), TWILIO_FROM, TWILIO_FROM.slice(1)];
      const bodies: [string, string[], string[]][] = [
        ['discord', peers.discord.received.map((r) => r.body), []],
        ['slack', peers.slack.received.map((r) => r.body), []],
        ['webhook', peers.webhook.received.map((r) => r.body), []],
        ['twilio', peers.twilio.received.map((r) => r.body), phones],
        ['smtp', peers.smtp.mails.map((m) => `${m.subject}\n${m.text}\n${String(m.html)}`), [EMAIL_TO]],
        ['webpush', peers.webpush.requests.map((r) => r.payload ?? ''), []],
        ['fcm', peers.fcm.sends.map((r) => JSON.stringify(r.body)), piecesOf(FCM_DEVICE)],
        ['apns', peers.apns.requests.map((r) => JSON.stringify(r.payload)), []],
      ];
      for (const [peer, sent, own] of bodies) {
        // (The SMTP peer refuses every recipient, so it keeps no message: its refusals are checked above.)
        if (peer !== 'smtp') assert.ok(sent.length > 0, `${peer} received requests`);
        assertNoSecrets([], sent.map((b) => `[${peer} received]\n${b}`), [...secrets, ...apiKeys].filter((x) => !own.includes(x)));
      }
      assert.ok(peers.slack.received.some((r) => /keeps failing/.test(r.body)), 'Slack was told about the other failing channels');
      for (const t of texts) {
        assert.ok(!/PRIVATE KEY|Bearer ya29|vapid t=|eyJ[\w-]{8,}\.eyJ/.test(t), `a credential leaked into: ${t.slice(0, 3000)}`);
      }
    });
  });
}
