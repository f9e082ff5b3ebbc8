/** `database`: query counts and execution-time percentiles per table, from `database_query`. */
import type { Queryable } from '../store/store.js';
import { BUCKET_NONE, byCountThenName, durations, echoRange, num, PERCENTILE_ERROR_BOUND, PERCENTILES_SQL, rangeParams, SQL, type Range } from './range.js';
import type { DatabaseStats } from './types.js';

const DATABASE_SQL = `
WITH src AS (
  SELECT table_name, bucket, queries, time_ms_sum
    FROM stats_database_hourly
   WHERE ${SQL.hours}
  UNION ALL
  SELECT coalesce(log_metadata ->> 'table_name', ''), vigil_stats_bucket(vigil_stats_number(log_metadata -> 'execution_time_ms')),
         1, coalesce(vigil_stats_number(log_metadata -> 'execution_time_ms'), 0)
    FROM logs
   WHERE event_type = 'database_query' AND ${SQL.edges}
),
hist AS (
  SELECT table_name AS key, bucket, sum(queries) AS n, sum(time_ms_sum) AS ms
    FROM src GROUP BY 1, 2
),${PERCENTILES_SQL}
SELECT h.key AS table_name, sum(h.n)::float8 AS queries,
       coalesce(sum(h.n) FILTER (WHERE h.bucket <> ${BUCKET_NONE}), 0)::float8 AS timed, sum(h.ms)::float8 AS ms,
       p.p50_bucket, p.p95_bucket
  FROM hist h LEFT JOIN pct p ON p.key = h.key
 GROUP BY h.key, p.p50_bucket, p.p95_bucket`;

interface Row {
  table_name: string;
  queries: number;
  timed: number;
  ms: number;
  p50_bucket: number | null;
  p95_bucket: number | null;
}

export async function database(db: Queryable, range: Range): Promise<DatabaseStats> {
  const { rows } = await db.query<Row>(DATABASE_SQL, rangeParams(range));
  return {
    ...echoRange(range),
    percentile_error_bound: PERCENTILE_ERROR_BOUND,
    tables: rows
      .map((r) => ({
        table_name: r.table_name,
        queries: num(r.queries),
        execution_time: durations(num(r.timed), num(r.ms), r.p50_bucket, r.p95_bucket),
      }))
      .sort(byCountThenName((t) => t.queries, (t) => t.table_name)),
  };
}
