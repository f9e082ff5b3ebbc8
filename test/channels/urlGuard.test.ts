import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyAddress, parseIp, UrlGuard, UrlRefusedError } from '../../src/channels/urlGuard.js';

describe('URL guard', () => {
  it('parses IPv4 and IPv6 forms', () => {
    assert.deepEqual(parseIp('10.1.2.3'), [10, 1, 2, 3]);
    assert.deepEqual(parseIp('::1'), [...Array(15).fill(0), 1]);
    assert.deepEqual(parseIp('::ffff:127.0.0.1').slice(10), [255, 255, 127, 0, 0, 1]);
    assert.deepEqual(parseIp('2001:db8::8:800:200c:417a'), [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a]);
  });

  const table: [string, string | null][] = [
    ['127.0.0.1', 'a loopback address'],
    ['127.8.9.10', 'a loopback address'],
    ['10.0.0.1', 'a private address'],
    ['172.16.5.4', 'a private address'],
    ['172.32.0.1', null],
    ['192.168.1.1', 'a private address'],
    ['169.254.169.254', 'a link-local address'],
    ['100.64.0.1', 'a CGNAT (shared) address'],
    ['0.0.0.0', 'an unspecified ("this network") address'],
    ['224.0.0.251', 'a multicast address'],
    ['255.255.255.255', 'a reserved address'],
    ['8.8.8.8', null],
    ['::', 'an unspecified address'],
    ['::1', 'a loopback address'],
    ['fe80::1', 'a link-local address'],
    ['fd12:3456::1', 'a unique-local address'],
    ['fc00::1', 'a unique-local address'],
    ['ff02::1', 'a multicast address'],
    ['::ffff:127.0.0.1', 'a loopback address'],
    ['::ffff:7f00:1', 'a loopback address'],
    ['::ffff:169.254.169.254', 'a link-local address'],
    ['::ffff:10.0.0.1', 'a private address'],
    ['64:ff9b::a00:1', 'a private address'],
    ['::ffff:8.8.8.8', null],
    ['2606:4700:4700::1111', null],
  ];
  for (const [ip, label] of table) {
    it(`${ip} is ${label ?? 'public'}`, () => assert.equal(classifyAddress(ip), label));
  }

  it('refuses loopback, private and link-local targets with a masked message', async () => {
    const guard = new UrlGuard();
    for (const url of ['http://127.0.0.1:9/hook/secret-token', 'http://[::1]/x', 'http://[::ffff:127.0.0.1]/x', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.8/x', 'http://0.0.0.0/']) {
      await assert.rejects(guard.check(url), (err: Error) => {
        assert.ok(err instanceof UrlRefusedError);
        assert.match(err.message, /^refused /);
        assert.ok(!err.message.includes('secret-token'), err.message);
        return true;
      }, url);
    }
  });

  it('refuses DNS names resolving to loopback (localhost) and names with any private address', async () => {
    await assert.rejects(new UrlGuard().check('http://localhost:8080/x'), /localhost resolves to a loopback address/);
    const guard = new UrlGuard({
      resolve: async (host) =>
        host === 'mixed.example' ? [{ address: '93.184.216.34', family: 4 }, { address: '10.1.1.1', family: 4 }] : [{ address: '93.184.216.34', family: 4 }],
    });
    await assert.rejects(guard.check('https://mixed.example/x'), /a private address/);
    const ok = await guard.check('https://public.example/x');
    assert.deepEqual(ok.addresses, [{ address: '93.184.216.34', family: 4 }]);
  });

  it('refuses other schemes and unresolvable names', async () => {
    const guard = new UrlGuard();
    await assert.rejects(guard.check('file:///etc/passwd'), /only http and https/);
    await assert.rejects(guard.check('ftp://example.com/x'), /only http and https/);
    await assert.rejects(guard.check('gopher://127.0.0.1/'), /only http and https/);
    await assert.rejects(guard.check('not a url'), /invalid URL/);
    await assert.rejects(new UrlGuard({ resolve: async () => Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' })) }).check('https://nx.example/'), /cannot resolve .*ENOTFOUND/);
  });

  it('lets allow-listed addresses, CIDRs and host names through', async () => {
    const loop = new UrlGuard({ allow: ['127.0.0.1'] });
    assert.equal((await loop.check('http://127.0.0.1:1/x')).addresses[0].address, '127.0.0.1');
    await assert.rejects(loop.check('http://127.0.0.2/x'), /loopback/);
    await assert.rejects(loop.check('http://[::1]/x'), /loopback/);
    assert.ok(loop.addressAllowed('::ffff:127.0.0.1'), 'the mapped form of an allowed IPv4 address');
    const cidr = new UrlGuard({ allow: ['10.0.0.0/8', 'fd00::/8'] });
    await cidr.check('http://10.200.3.4/x');
    await cidr.check('http://[fd00::5]/x');
    await assert.rejects(cidr.check('http://192.168.0.1/x'), /private/);
    const named = new UrlGuard({ allow: ['LocalHost'] });
    await named.check('http://localhost:1/x');
    assert.throws(() => new UrlGuard({ allow: ['10.0.0.0/33'] }), /allow-list entry "10.0.0.0\/33"/);
    assert.throws(() => new UrlGuard({ allow: ['foo/8'] }), /neither a host name/);
  });

  it('keeps its reading of a URL string but resolves a host name at every check (rebinding refused)', async () => {
    // The same string checked again: the second DNS answer is checked, and the connection pinned to it.
    let answer = '93.184.216.34';
    let lookups = 0;
    const guard = new UrlGuard({
      resolve: async () => {
        lookups++;
        return [{ address: answer, family: 4 }];
      },
    });
    const url = 'https://rebind.example/hook/secret-token';
    assert.deepEqual((await guard.check(url)).addresses, [{ address: '93.184.216.34', family: 4 }]);
    answer = '127.0.0.1';
    await assert.rejects(guard.check(url), (err: Error) => {
      assert.ok(err instanceof UrlRefusedError);
      assert.match(err.message, /rebind\.example resolves to a loopback address \(127\.0\.0\.1\)/);
      assert.ok(!err.message.includes('secret-token'), err.message);
      return true;
    });
    answer = '93.184.216.35';
    assert.deepEqual((await guard.check(url)).addresses, [{ address: '93.184.216.35', family: 4 }]);
    assert.equal(lookups, 3);
    // A host given as an address: refused every time, whatever was allowed before; a guard with
    // another allow-list has its own verdicts.
    const loop = new UrlGuard({ allow: ['127.0.0.1'] });
    for (let i = 0; i < 2; i++) {
      assert.equal((await loop.check('http://127.0.0.1:1/x')).addresses[0].address, '127.0.0.1');
      await assert.rejects(loop.check('http://127.0.0.2:1/x'), /loopback/);
      await assert.rejects(new UrlGuard().check('http://127.0.0.1:1/x'), /loopback/);
      await assert.rejects(loop.check('ftp://127.0.0.1/x'), /only http and https/);
    }
  });

  it('checks SMTP hosts by the same rules', async () => {
    await assert.rejects(new UrlGuard().checkHost('127.0.0.1'), /refused host 127\.0\.0\.1: it resolves to a loopback address/);
    assert.deepEqual(await new UrlGuard({ allow: ['127.0.0.1'] }).checkHost('127.0.0.1'), [{ address: '127.0.0.1', family: 4 }]);
  });
});
