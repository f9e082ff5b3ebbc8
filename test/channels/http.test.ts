import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { classifyStatus, failureResult, HttpClient, parseRetryAfter, truncate } from '../../src/channels/http.js';
import { Redactor } from '../../src/channels/mask.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { HANG, HttpPeer } from '../helpers/peers/httpPeer.js';
import { settledHandles, testHttp } from './fixtures.js';

describe('HTTP status classification', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads Retry-After as seconds or as an HTTP-date', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('1.5', now), 1500);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date in the past means now');
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('999999', now), 3_600_000, 'capped at an hour');
  });

  const table: [number, Record<string, string>, string, number | undefined][] = [
    [200, {}, 'ok', undefined],
    [204, {}, 'ok', undefined],
    [301, {}, 'permanent', undefined],
    [400, {}, 'permanent', undefined],
    [401, {}, 'permanent', undefined],
    [403, {}, 'permanent', undefined],
    [404, {}, 'permanent', undefined],
    [408, {}, 'retryable', undefined],
    [413, {}, 'permanent', undefined],
    [429, { 'retry-after': '7' }, 'retryable', 7000],
    [429, {}, 'retryable', undefined],
    [500, {}, 'retryable', undefined],
    [502, {}, 'retryable', undefined],
    [503, { 'retry-after': 'Thu, 01 Jan 2026 00:01:00 GMT' }, 'retryable', 60_000],
  ];
  for (const [status, headers, outcome, ra] of table) {
    it(`${status} ${JSON.stringify(headers)} → ${outcome}${ra !== undefined ? ` after ${ra} ms` : ''}`, () => {
      assert.deepEqual(classifyStatus(status, headers, now), ra === undefined ? { outcome } : { outcome, retryAfterMs: ra });
    });
  }

  it('truncates with an ellipsis, keeping code points whole', () => {
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('abc', 3), 'abc');
    assert.equal(truncate('ab😀cd', 4), 'ab…');
  });
});

describe('HTTP client against a real peer', () => {
  let peer: HttpPeer;
  let http: HttpClient;
  before(async () => {
    peer = await HttpPeer.start(() => ({ status: 200, body: 'ok' }));
    http = testHttp();
  });
  after(async () => {
    await http.close();
    await peer.close();
    assert.deepEqual(await settledHandles(), [], 'the test left sockets or servers open');
  });

  it('posts and reads the answer', async () => {
    const res = await http.request({ url: `${peer.url}/x`, body: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    assert.equal(peer.received.at(-1)?.body, 'hello');
  });

  it('does not follow a redirect, even to an allowed address', async () => {
    peer.script({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/iam' } });
    const before = peer.received.length;
    const res = await http.request({ url: `${peer.url}/redirect` });
    assert.equal(res.status, 302);
    assert.equal(peer.received.length, before + 1);
    assert.equal(classifyStatus(res.status).outcome, 'permanent');
  });

  it('times out on a hanging peer: retryable', async () => {
    peer.script(HANG);
    const started = Date.now();
    await assert.rejects(http.request({ url: `${peer.url}/slow`, timeoutMs: 200 }), (err: Error & { kind?: string }) => {
      assert.equal(err.kind, 'timeout');
      assert.equal(failureResult(err, new Redactor(), started).outcome, 'retryable');
      return true;
    });
  });

  it('an aborted call says so', async () => {
    peer.script(HANG);
    const ac = new AbortController();
    const p = http.request({ url: `${peer.url}/slow`, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, (err: Error & { kind?: string }) => err.kind === 'aborted');
  });

  it('connection refused is retryable', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await new Promise((r) => setTimeout(r, 1));
    await assert.rejects(http.request({ url: `http://127.0.0.1:${port}/hook/tok3n-secret` }), (err: Error & { kind?: string }) => {
      assert.equal(err.kind, 'network');
      assert.match(err.message, /ECONNREFUSED/);
      assert.ok(!err.message.includes('tok3n-secret'));
      return true;
    });
  });

  it('connects to the addresses the guard checked, not to a second DNS answer', async () => {
    // "rebind.invalid" exists only in the guard's resolver: the connection must use that answer.
    const resolve = async (host: string) => (host === 'rebind.invalid' ? [{ address: '127.0.0.1', family: 4 }] : Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' })));
    const pinned = new HttpClient({ guard: new UrlGuard({ allow: ['127.0.0.1'], resolve }) });
    try {
      const port = new URL(peer.url).port;
      const res = await pinned.request({ url: `http://rebind.invalid:${port}/pinned`, body: 'x' });
      assert.equal(res.status, 200);
      assert.equal(peer.received.at(-1)?.headers.host, `rebind.invalid:${port}`);
      const refused = new HttpClient({ guard: new UrlGuard({ resolve }) });
      await assert.rejects(refused.request({ url: `http://rebind.invalid:${port}/x` }), /rebind\.invalid resolves to a loopback address/);
      await refused.close();
    } finally {
      await pinned.close();
    }
  });

  it('a resolver that cannot answer for now is retryable; a name that does not exist is permanent', async () => {
    let code = 'EAI_AGAIN';
    const resolve = async () => Promise.reject(Object.assign(new Error('dns'), { code }));
    const client = new HttpClient({ guard: new UrlGuard({ allow: ['127.0.0.1'], resolve }) });
    const before = peer.received.length;
    try {
      for (const [c, outcome, message] of [
        ['EAI_AGAIN', 'retryable', /cannot resolve the host of http:\/\/hooks\.example\/\*\*\*\* for now \(EAI_AGAIN\); will retry/],
        ['ETIMEOUT', 'retryable', /for now \(ETIMEOUT\)/],
        ['ENOTFOUND', 'permanent', /cannot resolve the host of http:\/\/hooks\.example\/\*\*\*\* \(ENOTFOUND\)/],
      ] as const) {
        code = c;
        await assert.rejects(client.request({ url: 'http://hooks.example/s3cret-path' }), (err: Error) => {
          const r = failureResult(err, new Redactor(), Date.now());
          assert.equal(r.outcome, outcome, c);
          assert.match(String(r.error), message);
          assert.ok(!String(r.error).includes('s3cret'), 'the path is masked');
          return true;
        });
      }
      assert.equal(peer.received.length, before, 'nothing was sent');
    } finally {
      await client.close();
    }
  });

  it('a client without the allow-list refuses the loopback peer: permanent', async () => {
    const strict = new HttpClient({ guard: new UrlGuard() });
    const before = peer.received.length;
    try {
      await assert.rejects(strict.request({ url: `${peer.url}/x` }), (err: Error & { kind?: string }) => {
        assert.equal(err.kind, 'refused');
        assert.equal(failureResult(err, new Redactor(), Date.now()).outcome, 'permanent');
        return true;
      });
      assert.equal(peer.received.length, before, 'nothing was sent');
    } finally {
      await strict.close();
    }
  });
});
