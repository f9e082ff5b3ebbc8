/**
 * Vigil's configuration: defaults, then `vigil.config.yaml` (or `.yml`, `.json`) when present, then
 * environment variables, then command-line flags, each over the one before. Every option is
 * documented in vigil.config.example.yaml and docs/configuration.md.
 *
 * Sections other than those below (channels, rules, ...) are kept as read in `sections`, for the
 * components that own them to validate.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_DATA_DIR } from '../store/open.js';
import { PG_POOL_SIZE } from '../store/postgres.js';
import { DEFAULT_RATE_LIMIT_PER_MINUTE } from '../http/plugins/rateLimit.js';
import { KEY_CACHE_TTL_MS } from '../http/plugins/auth.js';
import { DEFAULT_CHECKPOINT_INTERVAL_MS } from '../trust/checkpoints.js';
import { DEFAULT_RETENTION_INTERVAL_MS, parseAge } from '../trust/retention.js';
// A bad value is quoted safely: YAML aliases can make it circular (JSON.stringify would throw), .nan is not "null".
import { show } from '../events/validate.js';

/** Defaults, with units. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 4870;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000; // longest a graceful shutdown waits for in-flight requests
export const DEFAULT_LOG_LEVEL = 'info';
export const CONFIG_FILES = ['vigil.config.yaml', 'vigil.config.yml', 'vigil.config.json'] as const;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export interface VigilConfig {
  server: {
    host: string;
    port: number;
    /** Requests per minute per API key unless the key has its own limit; 0: unlimited. */
    rate_limit_per_minute: number;
    /** How long a verified API key is trusted before the database is asked again, in ms. */
    key_cache_ttl_ms: number;
    shutdown_timeout_ms: number;
  };
  store: {
    /** PostgreSQL URL; when absent, the embedded database in data_dir. */
    database_url?: string;
    /** The embedded database (and local files) directory, absolute. */
    data_dir: string;
    /** PostgreSQL connections. */
    pool_size: number;
  };
  log: { level: (typeof LOG_LEVELS)[number] };
  trust: {
    /** The Ed25519 key signing checkpoints (PKCS#8 PEM, made on first use); default <data_dir>/checkpoint-key.pem. */
    checkpoint_key_file?: string;
    /** How often `vigil serve` signs the chain head, in ms; 0: only on demand. */
    checkpoint_interval_ms: number;
    /** A file outside the database that every new checkpoint is appended to (one JSON per line). */
    checkpoint_export_file?: string;
  };
  retention: {
    /** Remove events older than this (`365d`, `52w`, `1y`, `36h`); absent: keep everything. */
    older_than?: string;
    /** How often `vigil serve` applies it, in ms. */
    interval_ms: number;
  };
  /** The config file read, if any, and every top-level section of it. */
  file: { path: string | null; sections: Record<string, unknown> };
}

/** Flags shared by every command that touches the store (and `serve`'s own). */
export interface ConfigFlags {
  config?: string;
  host?: string;
  port?: string | number;
  data?: string;
  databaseUrl?: string;
  logLevel?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Setter = (cfg: VigilConfig, value: unknown, source: string) => void;

function int(min: number, max: number, set: (cfg: VigilConfig, n: number) => void): Setter {
  return (cfg, v, source) => {
    const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${source}: expected an integer from ${min} to ${max}, got ${show(v)}`);
    }
    set(cfg, n);
  };
}

function str(set: (cfg: VigilConfig, s: string) => void, check?: (s: string) => string | null): Setter {
  return (cfg, v, source) => {
    if (typeof v !== 'string' || v === '') throw new ConfigError(`${source}: expected a non-empty string, got ${show(v)}`);
    const bad = check?.(v);
    if (bad) throw new ConfigError(`${source}: ${bad}`);
    set(cfg, v);
  };
}

const pgUrl = (s: string) => (/^postgres(ql)?:\/\//.test(s) ? null : 'expected a URL starting with postgres:// or postgresql://');

/** Every option: its path in the file, its environment variable, and how to set it. */
const OPTIONS: { path: [string, string]; env?: string; set: Setter }[] = [
  { path: ['server', 'host'], env: 'VIGIL_HOST', set: str((c, s) => (c.server.host = s)) },
  { path: ['server', 'port'], env: 'VIGIL_PORT', set: int(0, 65535, (c, n) => (c.server.port = n)) },
  { path: ['server', 'rate_limit_per_minute'], env: 'VIGIL_RATE_LIMIT_PER_MINUTE', set: int(0, 1e9, (c, n) => (c.server.rate_limit_per_minute = n)) },
  { path: ['server', 'key_cache_ttl_ms'], env: 'VIGIL_KEY_CACHE_TTL_MS', set: int(0, 3_600_000, (c, n) => (c.server.key_cache_ttl_ms = n)) },
  { path: ['server', 'shutdown_timeout_ms'], env: 'VIGIL_SHUTDOWN_TIMEOUT_MS', set: int(0, 3_600_000, (c, n) => (c.server.shutdown_timeout_ms = n)) },
  { path: ['store', 'database_url'], env: 'DATABASE_URL', set: str((c, s) => (c.store.database_url = s), pgUrl) },
  { path: ['store', 'data_dir'], env: 'VIGIL_DATA_DIR', set: str((c, s) => (c.store.data_dir = resolve(s))) },
  { path: ['store', 'pool_size'], env: 'VIGIL_POOL_SIZE', set: int(1, 1000, (c, n) => (c.store.pool_size = n)) },
  { path: ['trust', 'checkpoint_key_file'], env: 'VIGIL_CHECKPOINT_KEY_FILE', set: str((c, s) => (c.trust.checkpoint_key_file = resolve(s))) },
  { path: ['trust', 'checkpoint_interval_ms'], env: 'VIGIL_CHECKPOINT_INTERVAL_MS', set: int(0, 7 * 86_400_000, (c, n) => (c.trust.checkpoint_interval_ms = n)) },
  { path: ['trust', 'checkpoint_export_file'], env: 'VIGIL_CHECKPOINT_EXPORT_FILE', set: str((c, s) => (c.trust.checkpoint_export_file = resolve(s))) },
  {
    path: ['retention', 'older_than'],
    env: 'VIGIL_RETENTION_OLDER_THAN',
    set: str(
      (c, s) => (c.retention.older_than = s),
      (s) => {
        try {
          parseAge(s);
          return null;
        } catch (err) {
          return (err as Error).message;
        }
      },
    ),
  },
  { path: ['retention', 'interval_ms'], env: 'VIGIL_RETENTION_INTERVAL_MS', set: int(60_000, 30 * 86_400_000, (c, n) => (c.retention.interval_ms = n)) },
  {
    path: ['log', 'level'],
    env: 'VIGIL_LOG_LEVEL',
    set: str(
      (c, s) => (c.log.level = s as VigilConfig['log']['level']),
      (s) => ((LOG_LEVELS as readonly string[]).includes(s) ? null : `expected one of ${LOG_LEVELS.join(', ')}`),
    ),
  },
];

const FLAG_PATHS: Record<Exclude<keyof ConfigFlags, 'config'>, string> = {
  host: 'server.host',
  port: 'server.port',
  data: 'store.data_dir',
  databaseUrl: 'store.database_url',
  logLevel: 'log.level',
};
const FLAG_NAMES: Record<string, string> = { host: '--host', port: '--port', data: '--data', databaseUrl: '--database-url', logLevel: '--log-level' };

/** Options holding a path: relative ones are taken from the directory Vigil runs in. */
const isPath = (key: string) => key === 'data_dir' || key.endsWith('_file');

export function defaults(cwd = process.cwd()): VigilConfig {
  return {
    server: {
      host: DEFAULT_HOST,
      port: DEFAULT_PORT,
      rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
      key_cache_ttl_ms: KEY_CACHE_TTL_MS,
      shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    },
    store: { data_dir: resolve(cwd, DEFAULT_DATA_DIR), pool_size: PG_POOL_SIZE },
    log: { level: DEFAULT_LOG_LEVEL },
    trust: { checkpoint_interval_ms: DEFAULT_CHECKPOINT_INTERVAL_MS },
    retention: { interval_ms: DEFAULT_RETENTION_INTERVAL_MS },
    file: { path: null, sections: {} },
  };
}

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`the config file ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(`the config file ${path} must hold a mapping of sections`);
  return data as Record<string, unknown>;
}

/** Which config file applies: --config, else VIGIL_CONFIG, else the first of CONFIG_FILES in cwd. */
export function findConfigFile(flags: ConfigFlags, env: NodeJS.ProcessEnv, cwd: string): string | null {
  const explicit = flags.config ?? env.VIGIL_CONFIG;
  if (explicit !== undefined && explicit !== '') {
    const p = resolve(cwd, explicit);
    if (!existsSync(p)) throw new ConfigError(`the config file ${p} does not exist`);
    return p;
  }
  for (const name of CONFIG_FILES) {
    const p = resolve(cwd, name);
    if (existsSync(p)) return p;
  }
  return null;
}

export function loadConfig(opts: { flags?: ConfigFlags; env?: NodeJS.ProcessEnv; cwd?: string } = {}): VigilConfig {
  const flags = opts.flags ?? {};
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const cfg = defaults(cwd);
  const path = findConfigFile(flags, env, cwd);
  if (path !== null) {
    const data = readFile(path);
    cfg.file = { path, sections: data };
    const known = new Map<string, Set<string>>();
    for (const o of OPTIONS) known.set(o.path[0], (known.get(o.path[0]) ?? new Set()).add(o.path[1]));
    for (const [section, keys] of known) {
      const v = data[section];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${path}: "${section}" must be a mapping`);
      for (const k of Object.keys(v)) {
        if (!keys.has(k)) throw new ConfigError(`${path}: unknown option ${section}.${k} (known: ${[...keys].join(', ')})`);
      }
    }
    for (const o of OPTIONS) {
      const v = (data[o.path[0]] as Record<string, unknown> | undefined)?.[o.path[1]];
      if (v !== undefined && v !== null) o.set(cfg, isPath(o.path[1]) && typeof v === 'string' ? resolve(cwd, v) : v, `${path}: ${o.path.join('.')}`);
    }
  }
  for (const o of OPTIONS) {
    const v = o.env === undefined ? undefined : env[o.env];
    if (v !== undefined && v !== '') o.set(cfg, isPath(o.path[1]) ? resolve(cwd, v) : v, o.env!);
  }
  for (const [flag, p] of Object.entries(FLAG_PATHS)) {
    const v = flags[flag as keyof typeof FLAG_PATHS];
    if (v === undefined) continue;
    const o = OPTIONS.find((x) => x.path.join('.') === p)!;
    o.set(cfg, flag === 'data' ? resolve(cwd, String(v)) : v, FLAG_NAMES[flag]);
  }
  return cfg;
}
