/**
 * Options shared by commands: the store options every store-touching command takes (the same as
 * `serve`'s), and the event filters of `query`, `tail` and `export` (the API's query parameters).
 */
import { Command, Option } from 'commander';
import { CUSTOM_EVENT_TYPE_PATTERN, LEVELS, type Level } from '../events/catalogue.js';
import { loadConfig, type ConfigFlags, type VigilConfig } from '../config/config.js';
import type { FilterQuery } from '../http/filters.js';
import { CliError, type CliIo } from './io.js';

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'config file (default: vigil.config.yaml, .yml or .json in the current directory; also VIGIL_CONFIG)')
    .option('--data <dir>', 'embedded database directory (default ./.vigil; also VIGIL_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded database (also DATABASE_URL)')
    .option('--log-level <level>', 'log level: trace, debug, info, warn, error, fatal, silent (also VIGIL_LOG_LEVEL)');
}

export function configFrom(flags: ConfigFlags, io: CliIo): VigilConfig {
  return loadConfig({ flags, env: io.env ?? process.env, cwd: io.cwd ?? process.cwd() });
}

export interface FilterFlags {
  type?: string[];
  level?: string;
  since?: string;
  until?: string;
  task?: string;
  user?: string;
  agent?: string;
  model?: string;
  status?: string;
  q?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter((s) => s !== '')];

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--type <event_type>', 'event type to include (repeatable, or comma-separated)', collect)
    .addOption(new Option('--level <level>', 'minimum level').choices([...LEVELS]))
    .option('--since <time>', 'events at or after this time (ISO 8601, or a duration ago: 30m, 2h, 7d)')
    .option('--until <time>', 'events before this time (ISO 8601, or a duration ago)')
    .option('--task <task_id>', 'events of this task')
    .option('--user <user_id>', 'events of this user (created_by, updated_by or user_id)')
    .option('--agent <agent_name>', 'events of this agent')
    .option('--model <model_name>', 'events of this model (model_name or model_used)')
    .option('--status <status>', 'events with this status')
    .option('-q, --q <text>', 'text contained in the message');
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** ISO 8601 with a zone, or `<n><s|m|h|d>` meaning that long ago. */
export function parseTime(v: string, flag: string, now = Date.now()): string {
  const rel = /^(\d+)([smhd])$/.exec(v);
  if (rel) return new Date(now - Number(rel[1]) * UNITS[rel[2]]).toISOString();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(v) && !Number.isNaN(Date.parse(v))) return new Date(v).toISOString();
  throw new CliError(`${flag}: expected an ISO 8601 time with a zone (2026-01-31T12:00:00Z) or a duration ago (30m, 2h, 7d), got "${v}"`);
}

/** The filters as the API's query parameters (used over HTTP and, via toFilters, directly). */
export function filterQuery(f: FilterFlags): FilterQuery {
  for (const t of f.type ?? []) {
    if (!CUSTOM_EVENT_TYPE_PATTERN.test(t)) throw new CliError(`--type: "${t}" is not an event type name`);
  }
  const q: FilterQuery = {};
  if (f.type && f.type.length > 0) q.event_type = f.type;
  if (f.level) q.level = f.level as Level;
  if (f.since) q.since = parseTime(f.since, '--since');
  if (f.until) q.until = parseTime(f.until, '--until');
  if (f.task) q.task_id = f.task;
  if (f.user) q.user_id = f.user;
  if (f.agent) q.agent_name = f.agent;
  if (f.model) q.model_name = f.model;
  if (f.status) q.status = f.status;
  if (f.q) q.q = f.q;
  return q;
}

/** Everything commands' flags may hold (commander gives strings and booleans). */
export type CommandFlags = FilterFlags &
  ConfigFlags & {
    limit?: string;
    cursor?: string;
    order?: string;
    json?: boolean;
    lines?: string;
    interval?: string;
    format?: string;
    output?: string;
    quiet?: boolean;
  };
