import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskAddress, maskEmail, maskId, maskPhone, maskSecret, maskUrl, Redactor, urlSecrets } from '../../src/channels/mask.js';

describe('masking', () => {
  it('masks webhook URLs, keeping only what identifies the provider', () => {
    assert.equal(maskUrl('https://discord.com/api/webhooks/123456789012345678/abcDEF_token'), 'https://discord.com/api/webhooks/12…/****');
    assert.equal(maskUrl('https://discord.com/api/v10/webhooks/123456789012345678/abc'), 'https://discord.com/api/v10/webhooks/12…/****');
    assert.equal(maskUrl('https://hooks.slack.com/services/T0001/B0001/XXXXYYYY'), 'https://hooks.slack.com/services/T0…/****');
    assert.equal(maskUrl('https://example.com/hooks/abc123?token=s3cret'), 'https://example.com/hooks/****');
    assert.equal(maskUrl('https://user:pa55word@example.com/x9f8e7'), 'https://****@example.com/****');
    assert.equal(maskUrl('https://example.com'), 'https://example.com');
    assert.equal(maskUrl('https://example.com/SecretPathToken/x'), 'https://example.com/****', 'a mixed-case first segment may be a secret');
    assert.equal(maskUrl('https://example.com/onlyone'), 'https://example.com/****');
    assert.equal(maskUrl('not a url'), '****');
  });

  it('masks phone numbers, email addresses, ids and secrets', () => {
    assert.equal(maskPhone('+15551234567'), '+1555…67');
    assert.equal(maskPhone('+1-555-123-4567'), '+1555…67');
    assert.equal(maskPhone('+123'), '****');
    assert.equal(maskEmail('alice@example.com'), 'al…@example.com');
    assert.equal(maskEmail('bob@example.com'), 'b…@example.com');
    assert.equal(maskEmail('nobody'), '****');
    assert.equal(maskId('AC0123456789abcdef0123456789abcdef'), 'AC01…');
    assert.equal(maskSecret('hunter2'), '****');
    assert.equal(maskAddress('+15551234567'), '+1555…67');
    assert.equal(maskAddress('a@example.com, carol@example.org'), 'a…@example.com, ca…@example.org');
  });

  it('redacts configured secrets in all their forms, then any URL, address or number left', () => {
    const r = new Redactor().add('s3cr3t-token').add('user:pw-secret');
    const text = `token s3cr3t-token, encoded ${encodeURIComponent('user:pw-secret')}, basic ${Buffer.from('user:pw-secret').toString('base64')}`;
    const out = r.redact(`${text} https://h.example/p/q to bob@example.com and +15551234567`);
    for (const s of ['s3cr3t-token', 'pw-secret', Buffer.from('user:pw-secret').toString('base64'), '/p/q', 'bob@', '5551234567']) assert.ok(!out.includes(s), `${s} in ${out}`);
    assert.match(out, /b…@example\.com/);
    assert.match(out, /\+1555…67/);
  });

  it('knows a webhook URL\'s secret parts', () => {
    const url = 'https://discord.com/api/webhooks/123456789012345678/tokenPART_xyz';
    const out = urlSecrets(url).redact(`failed ${url} (path /api/webhooks/123456789012345678/tokenPART_xyz, token tokenPART_xyz)`);
    assert.ok(!out.includes('tokenPART_xyz'), out);
    assert.ok(!out.includes('123456789012345678'), out);
  });
});
