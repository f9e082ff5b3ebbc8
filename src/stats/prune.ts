/**
 * Pruning the rollups: retention removes old rows from `logs`, and must remove their hours from the
 * rollups too, or the statistics would keep counting them. Only whole hours before `before` go.
 */
import type { Queryable } from '../store/store.js';

export const ROLLUP_TABLES = [
  'stats_costs_hourly',
  'stats_agents_hourly',
  'stats_tasks_hourly',
  'stats_cache_hourly',
  'stats_errors_hourly',
  'stats_security_hourly',
  'stats_database_hourly',
  'stats_cost_task_hourly',
] as const;

/** Deletes rollup rows of hours that end at or before `before`. Returns how many rows went. */
export async function pruneRollups(db: Queryable, before: Date): Promise<number> {
  let removed = 0;
  for (const table of ROLLUP_TABLES) {
    // `table` comes from the constant list above, never from input.
    const { rowCount } = await db.query(`DELETE FROM ${table} WHERE hour + interval '1 hour' <= $1::timestamptz`, [before.toISOString()]);
    removed += rowCount;
  }
  return removed;
}
