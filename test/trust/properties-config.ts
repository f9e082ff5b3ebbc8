/**
 * Config generators of the property-based tests: config files (YAML or JSON, from generated
 * objects or raw text), environment maps and flags, as loadConfig reads them — and the check
 * that it either returns a config or throws a ConfigError naming where the problem is.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { CONFIG_FILES, ConfigError, loadConfig, type ConfigFlags, type VigilConfig } from '../../src/config/config.js';

interface OptionSpec {
  section: 'server' | 'store' | 'log';
  key: string;
  env: string;
  flag?: keyof Omit<ConfigFlags, 'config'>;
  flagName?: string;
  valid: fc.Arbitrary<string | number>;
  read: (c: VigilConfig) => unknown;
}

const int = (min: number, max: number) => fc.integer({ min, max });

/** Every option of docs/configuration.md (the first table), with values it must accept. */
export const OPTIONS: OptionSpec[] = [
  { section: 'server', key: 'host', env: 'VIGIL_HOST', flag: 'host', flagName: '--host', valid: fc.constantFrom('127.0.0.1', '0.0.0.0', 'localhost', '::1'), read: (c) => c.server.host },
  { section: 'server', key: 'port', env: 'VIGIL_PORT', flag: 'port', flagName: '--port', valid: int(0, 65535), read: (c) => c.server.port },
  { section: 'server', key: 'rate_limit_per_minute', env: 'VIGIL_RATE_LIMIT_PER_MINUTE', valid: int(0, 1e9), read: (c) => c.server.rate_limit_per_minute },
  { section: 'server', key: 'key_cache_ttl_ms', env: 'VIGIL_KEY_CACHE_TTL_MS', valid: int(0, 3_600_000), read: (c) => c.server.key_cache_ttl_ms },
  { section: 'server', key: 'shutdown_timeout_ms', env: 'VIGIL_SHUTDOWN_TIMEOUT_MS', valid: int(0, 3_600_000), read: (c) => c.server.shutdown_timeout_ms },
  {
    section: 'store',
    key: 'database_url',
    env: 'DATABASE_URL',
    flag: 'databaseUrl',
    flagName: '--database-url',
    valid: fc.tuple(fc.constantFrom('postgres', 'postgresql'), fc.webAuthority()).map(([s, a]) => `${s}://${a}/db`),
    read: (c) => c.store.database_url,
  },
  { section: 'store', key: 'pool_size', env: 'VIGIL_POOL_SIZE', valid: int(1, 1000), read: (c) => c.store.pool_size },
  { section: 'log', key: 'level', env: 'VIGIL_LOG_LEVEL', flag: 'logLevel', flagName: '--log-level', valid: fc.constantFrom('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'), read: (c) => c.log.level },
];
// store.data_dir / VIGIL_DATA_DIR / --data is resolved against the cwd: any non-empty string is valid.
const SECTIONS = ['server', 'store', 'log'] as const;
const ENV_NAMES = [...OPTIONS.map((o) => o.env), 'VIGIL_DATA_DIR'];
const FLAG_NAMES: Record<string, string> = { host: '--host', port: '--port', data: '--data', databaseUrl: '--database-url', logLevel: '--log-level' };

/** Values a config file or a careless operator may hold: scalars of every kind, strings that look like numbers, junk. */
const configValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -10, max: 70_000 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e21, 2 ** 53 + 2, 0.5),
  fc.constantFrom('12', ' 12 ', '0x10', '1e3', '1_000', '', ' ', '-1', '+5', '１２', 'postgres://', 'postgresql://h/db', 'mysql://h/db', 'info', 'INFO', 'yes', '~', 'null'),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

/** A config document: known sections with known (valid or odd) and unknown keys, other sections, or junk in place of a section. */
export const configDocument: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.dictionary(
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...SECTIONS) }, { weight: 1, arbitrary: fc.constantFrom('channels', 'rules', 'worker', 'interventions') }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }),
    fc.oneof(
      { weight: 6, arbitrary: fc.dictionary(
        fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...OPTIONS.map((o) => o.key), 'data_dir') }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
        fc.oneof({ weight: 2, arbitrary: configValue }, { weight: 1, arbitrary: fc.oneof(...OPTIONS.map((o) => o.valid)) }),
        { maxKeys: 4 },
      ) },
      { weight: 1, arbitrary: configValue },
    ),
    { maxKeys: 4 },
  ) },
  { weight: 1, arbitrary: configValue },
);

/** Raw file text: YAML with anchors, aliases (circular too), tags, duplicated keys, tabs, and plain noise. */
const YAML_SNIPPETS = [
  'server: &a {port: *a}', 'server:\n  host: &h [*h]', 'store: &s\n  data_dir: *s', 'log: &l {level: *l}', 'server:\n  port: !!binary aGVsbG8=',
  'server:\n  port: !!set {a, b}', 'server:\n  port: !!float .nan', 'server:\n  port: .inf', 'server:\n  port: 0x1F', 'server:\n  port: 1_000',
  'server:\n  port: 80\n  port: 81', 'server:\n\tport: 80', '? [a]\n: 1', 'server: {? [a] : 1}', 'log:\n  level: !!str', 'server: !!omap [{port: 1}]',
  '- server', '"just a string"', '42', '', '---\n---', '%YAML 1.2\n---\nserver: {}', 'server: {port: 99999999999999999999999}', 'store: {pool_size: 0}',
  'x: &x\n  y: *x\nserver: {host: *x}', '&r {server: *r}', 'server: {host: !!binary AA==}', 'store: {data_dir: 7}', 'store: {database_url: "postgres://u:p@h/db"}',
];
export const configText: fc.Arbitrary<string> = fc.oneof(
  fc.array(fc.constantFrom(...YAML_SNIPPETS), { minLength: 1, maxLength: 3 }).map((parts) => parts.join('\n')),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }),
  configDocument.map((d) => JSON.stringify(d) ?? '').chain((t) => fc.nat(Math.max(0, t.length)).map((n) => t.slice(0, n))),
);

/** Environment maps: the options' variables with odd or valid values, and unrelated ones. */
export const envMap: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...ENV_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }),
  fc.oneof(configValue.map((v) => (typeof v === 'string' ? v : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))), fc.oneof(...OPTIONS.map((o) => o.valid)).map(String)),
  { maxKeys: 4 },
);

/** Flags as commander hands them over (strings), or as a program may pass them (numbers, NaN). */
export const flagMap: fc.Arbitrary<ConfigFlags> = fc.record(
  {
    host: fc.string({ maxLength: 12 }),
    port: fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constantFrom(NaN, Infinity, 4870, '4870', 1.5)),
    data: fc.string({ maxLength: 12 }),
    databaseUrl: fc.oneof(fc.string({ maxLength: 12 }), fc.constant('postgres://h/db')),
    logLevel: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('info', 'debug')),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<ConfigFlags>;

/** Writes the document where loadConfig finds it (by default name, --config or VIGIL_CONFIG); returns its path and how. */
export function placeFile(dir: string, text: string, json: boolean, via: 'default' | 'flag' | 'env'): { path: string; flags: ConfigFlags; env: Record<string, string> } {
  for (const name of CONFIG_FILES) rmSync(join(dir, name), { force: true });
  const name = via === 'default' ? (json ? 'vigil.config.json' : 'vigil.config.yaml') : json ? 'custom.json' : 'custom.yml';
  const path = join(dir, name);
  writeFileSync(path, text);
  if (via === 'flag') return { path, flags: { config: name }, env: {} };
  if (via === 'env') return { path, flags: {}, env: { VIGIL_CONFIG: path } };
  return { path, flags: {}, env: {} };
}

/** The names an error may point at for this input: option paths, sections, variables, flags, the file. */
function places(path: string | null, env: Record<string, string>, flags: ConfigFlags): string[] {
  const out: string[] = [];
  if (path !== null) {
    out.push(`the config file ${path}`);
    for (const s of SECTIONS) out.push(`${path}: "${s}"`, `${path}: unknown option ${s}.`);
    for (const o of OPTIONS) out.push(`${path}: ${o.section}.${o.key}: `);
    out.push(`${path}: store.data_dir: `);
  }
  for (const k of Object.keys(env)) if (ENV_NAMES.includes(k)) out.push(`${k}: `);
  for (const k of Object.keys(flags)) if (FLAG_NAMES[k]) out.push(`${FLAG_NAMES[k]}: `);
  return out;
}

/**
 * Runs loadConfig: a config, or a ConfigError whose message starts with (or contains) a place this
 * input named. Anything else (a TypeError, a RangeError, a message naming nothing) fails.
 */
export function checkLoad(cwd: string, path: string | null, env: Record<string, string>, flags: ConfigFlags): { cfg: VigilConfig } | { error: ConfigError } {
  let cfg: VigilConfig;
  try {
    cfg = loadConfig({ cwd, env, flags });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `loadConfig threw ${(err as Error)?.constructor?.name}, not a ConfigError: ${(err as Error)?.stack ?? String(err)}`);
    const where = places(path, env, flags);
    assert.ok(
      where.some((p) => err.message.includes(p)),
      `the ConfigError names none of the input's places: ${JSON.stringify(err.message)} (places: ${where.slice(0, 6).join(' | ')} ...)`,
    );
    assert.ok(err.message.length < 2000, `the message is ${err.message.length} characters: it quotes too much`);
    // null values are skipped, so "got null" could only be NaN or Infinity written by JSON.stringify: unclear.
    assert.doesNotMatch(err.message, /got null\b/, 'the message misquotes the bad value');
    return { error: err };
  }
  assert.equal(typeof cfg.server.port, 'number');
  assert.ok(Number.isInteger(cfg.server.port) && cfg.server.port >= 0 && cfg.server.port <= 65535, `port ${cfg.server.port}`);
  assert.ok(typeof cfg.store.data_dir === 'string' && cfg.store.data_dir.length > 0);
  return { cfg };
}

/** Valid values for some options, each from the file, the environment or a flag (the last of a source wins). */
export const layeredValid = fc.array(
  fc.oneof(...OPTIONS.map((o, i) => fc.tuple(fc.constant(i), o.valid, fc.constantFrom<'file' | 'env' | 'flag'>('file', 'env', 'flag'), fc.boolean()))),
  { maxLength: 12 },
);

export { toYaml };
