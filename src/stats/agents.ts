/** `agents`: executions, success rate and execution-time percentiles per agent, from `agent_executed`. */
import type { Queryable } from '../store/store.js';
import { BUCKET_NONE, byCountThenName, durations, echoRange, num, PERCENTILE_ERROR_BOUND, PERCENTILES_SQL, rangeParams, SQL, type Range } from './range.js';
import type { AgentsStats } from './types.js';

const AGENTS_SQL = `
WITH src AS (
  SELECT agent_name, bucket, executions, successes, time_ms_sum
    FROM stats_agents_hourly
   WHERE ${SQL.hours}
  UNION ALL
  SELECT coalesce(log_metadata ->> 'agent_name', ''), vigil_stats_bucket(vigil_stats_number(log_metadata -> 'execution_time_ms')),
         1, CASE WHEN lower(log_metadata ->> 'status') = 'success' THEN 1 ELSE 0 END,
         coalesce(vigil_stats_number(log_metadata -> 'execution_time_ms'), 0)
    FROM logs
   WHERE event_type = 'agent_executed' AND ${SQL.edges}
),
hist AS (
  SELECT agent_name AS key, bucket, sum(executions) AS n, sum(successes) AS ok, sum(time_ms_sum) AS ms
    FROM src GROUP BY 1, 2
),${PERCENTILES_SQL}
SELECT h.key AS agent_name, sum(h.n)::float8 AS executions, sum(h.ok)::float8 AS successes,
       coalesce(sum(h.n) FILTER (WHERE h.bucket <> ${BUCKET_NONE}), 0)::float8 AS timed, sum(h.ms)::float8 AS ms,
       p.p50_bucket, p.p95_bucket
  FROM hist h LEFT JOIN pct p ON p.key = h.key
 GROUP BY h.key, p.p50_bucket, p.p95_bucket`;

interface Row {
  agent_name: string;
  executions: number;
  successes: number;
  timed: number;
  ms: number;
  p50_bucket: number | null;
  p95_bucket: number | null;
}

export async function agents(db: Queryable, range: Range): Promise<AgentsStats> {
  const { rows } = await db.query<Row>(AGENTS_SQL, rangeParams(range));
  return {
    ...echoRange(range),
    percentile_error_bound: PERCENTILE_ERROR_BOUND,
    agents: rows
      .map((r) => ({
        agent_name: r.agent_name,
        executions: num(r.executions),
        successes: num(r.successes),
        success_rate: num(r.successes) / num(r.executions),
        execution_time: durations(num(r.timed), num(r.ms), r.p50_bucket, r.p95_bucket),
      }))
      .sort(byCountThenName((a) => a.executions, (a) => a.agent_name)),
  };
}
