import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_PORT, loadConfig } from '../../src/config/config.js';
import { tempDir } from '../helpers/stores.js';

describe('configuration', () => {
  it('uses the defaults without file, environment or flags', () => {
    const cwd = tempDir();
    const c = loadConfig({ env: {}, cwd });
    assert.equal(c.server.host, '127.0.0.1');
    assert.equal(c.server.port, DEFAULT_PORT);
    assert.equal(c.store.data_dir, join(cwd, '.vigil'));
    assert.equal(c.store.database_url, undefined);
    assert.equal(c.file.path, null);
  });

  it('reads vigil.config.yaml, then the environment over it, then flags over both', () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'vigil.config.yaml'),
      'server:\n  host: 0.0.0.0\n  port: 5000\n  rate_limit_per_minute: 10\nstore:\n  data_dir: data\nlog:\n  level: debug\nchannels:\n  discord: {}\n',
    );
    const file = loadConfig({ env: {}, cwd });
    assert.equal(file.file.path, join(cwd, 'vigil.config.yaml'));
    assert.equal(file.server.host, '0.0.0.0');
    assert.equal(file.server.port, 5000);
    assert.equal(file.server.rate_limit_per_minute, 10);
    assert.equal(file.store.data_dir, join(cwd, 'data'));
    assert.equal(file.log.level, 'debug');
    assert.deepEqual(file.file.sections.channels, { discord: {} }, 'other sections are kept for their owners');
    const env = loadConfig({ env: { VIGIL_PORT: '6000', DATABASE_URL: 'postgres://u:p@h/db' }, cwd });
    assert.equal(env.server.port, 6000);
    assert.equal(env.server.host, '0.0.0.0');
    assert.equal(env.store.database_url, 'postgres://u:p@h/db');
    const flags = loadConfig({ env: { VIGIL_PORT: '6000' }, cwd, flags: { port: '7000', data: 'other' } });
    assert.equal(flags.server.port, 7000);
    assert.equal(flags.store.data_dir, join(cwd, 'other'));
  });

  it('reads vigil.config.json and an explicit --config / VIGIL_CONFIG', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'vigil.config.json'), JSON.stringify({ server: { port: 4999 } }));
    assert.equal(loadConfig({ env: {}, cwd }).server.port, 4999);
    writeFileSync(join(cwd, 'alt.yaml'), 'server:\n  port: 4998\n');
    assert.equal(loadConfig({ env: { VIGIL_CONFIG: 'alt.yaml' }, cwd }).server.port, 4998);
    assert.equal(loadConfig({ env: {}, cwd, flags: { config: 'alt.yaml' } }).server.port, 4998);
  });

  it('refuses bad values and unknown options, naming where they came from', () => {
    const cwd = tempDir();
    assert.throws(() => loadConfig({ env: { VIGIL_PORT: 'http' }, cwd }), (e: Error) => e instanceof ConfigError && /VIGIL_PORT: expected an integer from 0 to 65535, got "http"/.test(e.message));
    assert.throws(() => loadConfig({ env: {}, cwd, flags: { port: '70000' } }), /--port: expected an integer/);
    assert.throws(() => loadConfig({ env: { DATABASE_URL: 'mysql://x' }, cwd }), /DATABASE_URL: expected a URL starting with postgres/);
    assert.throws(() => loadConfig({ env: { VIGIL_LOG_LEVEL: 'loud' }, cwd }), /VIGIL_LOG_LEVEL: expected one of trace/);
    assert.throws(() => loadConfig({ env: {}, cwd, flags: { config: 'missing.yaml' } }), /does not exist/);
    writeFileSync(join(cwd, 'vigil.config.yaml'), 'server:\n  prot: 1\n');
    assert.throws(() => loadConfig({ env: {}, cwd }), /unknown option server\.prot/);
    writeFileSync(join(cwd, 'vigil.config.yaml'), 'server: [1\n');
    assert.throws(() => loadConfig({ env: {}, cwd }), /not valid YAML/);
  });
});
