/**
 * `tasks`: tasks created, completed and failed, and the completion time.
 *
 * Completion time is `task_completed.execution_time_ms` as the platform reported it: it is what the
 * task itself measured, it needs no join with the task's creation (which may lie outside the range
 * or in another system), and it can be rolled up per hour. Completions without it are counted in
 * `completed` but not in `completion_time.count`.
 */
import type { Queryable } from '../store/store.js';
import { BUCKET_NONE, durations, echoRange, num, PERCENTILE_ERROR_BOUND, PERCENTILES_SQL, rangeParams, ratio, SQL, type Range } from './range.js';
import type { TasksStats } from './types.js';

const TASKS_SQL = `
WITH src AS (
  SELECT event_type, bucket, tasks, time_ms_sum
    FROM stats_tasks_hourly
   WHERE ${SQL.hours}
  UNION ALL
  SELECT event_type, vigil_stats_bucket(vigil_stats_number(log_metadata -> 'execution_time_ms')),
         1, coalesce(vigil_stats_number(log_metadata -> 'execution_time_ms'), 0)
    FROM logs
   WHERE event_type IN ('task_created', 'task_completed', 'task_failed') AND ${SQL.edges}
),
hist AS (
  SELECT event_type AS key, bucket, sum(tasks) AS n, sum(time_ms_sum) AS ms
    FROM src GROUP BY 1, 2
),${PERCENTILES_SQL}
SELECT h.key AS event_type, sum(h.n)::float8 AS tasks,
       coalesce(sum(h.n) FILTER (WHERE h.bucket <> ${BUCKET_NONE}), 0)::float8 AS timed, sum(h.ms)::float8 AS ms,
       p.p50_bucket, p.p95_bucket
  FROM hist h LEFT JOIN pct p ON p.key = h.key
 GROUP BY h.key, p.p50_bucket, p.p95_bucket`;

interface Row {
  event_type: 'task_created' | 'task_completed' | 'task_failed';
  tasks: number;
  timed: number;
  ms: number;
  p50_bucket: number | null;
  p95_bucket: number | null;
}

export async function tasks(db: Queryable, range: Range): Promise<TasksStats> {
  const { rows } = await db.query<Row>(TASKS_SQL, rangeParams(range));
  const get = (t: Row['event_type']) => rows.find((r) => r.event_type === t);
  const count = (t: Row['event_type']) => num(get(t)?.tasks ?? 0);
  const done = get('task_completed');
  const completed = count('task_completed');
  const failed = count('task_failed');
  return {
    ...echoRange(range),
    percentile_error_bound: PERCENTILE_ERROR_BOUND,
    created: count('task_created'),
    completed,
    failed,
    success_rate: ratio(completed, completed + failed),
    completion_time: done ? durations(num(done.timed), num(done.ms), done.p50_bucket, done.p95_bucket) : durations(0, 0, null, null),
  };
}
