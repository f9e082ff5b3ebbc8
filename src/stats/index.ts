/**
 * Usage statistics over a time range, each a pure query function the HTTP layer exposes as
 * `GET /v1/stats/<name>?since=&until=`. Whole hours are read from the hourly rollups that
 * migrations/004_stats_rollups.sql maintains; the partial-hour edges from `logs`: answers are exact
 * (`since` inclusive, `until` exclusive), and percentiles are within PERCENTILE_ERROR_BOUND.
 * Shapes: types.ts and docs/stats.md.
 */
import type { Queryable } from '../store/store.js';
import { agents } from './agents.js';
import { cache } from './cache.js';
import { costs } from './costs.js';
import { database } from './database.js';
import { errors } from './errors.js';
import { security } from './security.js';
import { tasks } from './tasks.js';
import type { StatName } from './types.js';

export type * from './types.js';
export { PERCENTILE_ERROR_BOUND } from './range.js';
export { SECURITY_TOP_N } from './security.js';
export { pruneRollups } from './prune.js';
export { STATS_SCHEMAS } from './schemas.js';
export { agents, cache, costs, database, errors, security, tasks };

export const STATS: Record<StatName, (db: Queryable, range: { since?: Date; until?: Date }) => Promise<unknown>> = {
  costs,
  agents,
  tasks,
  cache,
  errors,
  security,
  database,
};
