/** `costs`: calls, tokens and cost_usd of `model_called` events by model, by provider, by UTC day and by task type. */
import type { Queryable } from '../store/store.js';
import { byCountThenName, echoRange, num, rangeParams, SQL, type Range } from './range.js';
import type { CostFigures, CostsStats } from './types.js';

/** One row per grouping set: the total, each model, each provider, each day. */
const COSTS_SQL = `
WITH src AS (
  SELECT hour, model_name, provider, calls, tokens, cost_usd
    FROM stats_costs_hourly
   WHERE ${SQL.hours}
  UNION ALL
  SELECT ${SQL.hourOf}, coalesce(log_metadata ->> 'model_name', ''), coalesce(log_metadata ->> 'provider', ''),
         1, coalesce(vigil_stats_number(log_metadata -> 'tokens_used'), 0)::bigint,
         CASE WHEN jsonb_typeof(log_metadata -> 'cost_usd') = 'number' THEN (log_metadata ->> 'cost_usd')::numeric ELSE 0 END
    FROM logs
   WHERE event_type = 'model_called' AND ${SQL.edges}
)
SELECT CASE WHEN GROUPING(model_name) = 0 THEN 'model' WHEN GROUPING(provider) = 0 THEN 'provider'
            WHEN GROUPING(date_bin('1 day', hour, '2000-01-01 00:00:00+00')) = 0 THEN 'day' ELSE 'total' END AS grouping,
       model_name, provider, to_char(date_bin('1 day', hour, '2000-01-01 00:00:00+00') AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
       coalesce(sum(calls), 0)::float8 AS calls, coalesce(sum(tokens), 0)::float8 AS tokens, coalesce(sum(cost_usd), 0)::float8 AS cost_usd
  FROM src
 GROUP BY GROUPING SETS ((model_name), (provider), (date_bin('1 day', hour, '2000-01-01 00:00:00+00')), ())`;

/** By task type: the hourly rollup for whole hours, raw events for the partial hours at the edges. */
const TASK_TYPE_SQL = `
WITH src AS (
  SELECT task_type, calls, tokens, cost_usd
    FROM stats_cost_task_hourly
   WHERE ${SQL.hours}
  UNION ALL
  SELECT coalesce(log_metadata ->> 'task_type', ''), 1, coalesce(vigil_stats_number(log_metadata -> 'tokens_used'), 0)::bigint,
         CASE WHEN jsonb_typeof(log_metadata -> 'cost_usd') = 'number' THEN (log_metadata ->> 'cost_usd')::numeric ELSE 0 END
    FROM logs
   WHERE event_type = 'model_called' AND ${SQL.edges}
)
SELECT task_type, sum(calls)::float8 AS calls, sum(tokens)::float8 AS tokens, sum(cost_usd)::float8 AS cost_usd
  FROM src GROUP BY task_type`;

interface Row {
  grouping: 'model' | 'provider' | 'day' | 'total';
  model_name: string | null;
  provider: string | null;
  day: string | null;
  calls: number;
  tokens: number;
  cost_usd: number;
}

export async function costs(db: Queryable, range: Range): Promise<CostsStats> {
  const { rows } = await db.query<Row>(COSTS_SQL, rangeParams(range));
  const { rows: taskRows } = await db.query<{ task_type: string; calls: number; tokens: number; cost_usd: number }>(TASK_TYPE_SQL, rangeParams(range));
  const figures = (r: Row): CostFigures => ({ calls: num(r.calls), tokens: num(r.tokens), cost_usd: num(r.cost_usd) });
  const total = rows.find((r) => r.grouping === 'total');
  const byCost = <T extends CostFigures>(name: (t: T) => string) => byCountThenName<T>((t) => t.cost_usd, name);
  return {
    ...echoRange(range),
    total: total ? figures(total) : { calls: 0, tokens: 0, cost_usd: 0 },
    by_model: rows
      .filter((r) => r.grouping === 'model')
      .map((r) => ({ model_name: r.model_name!, ...figures(r) }))
      .sort(byCost((t) => t.model_name)),
    by_provider: rows
      .filter((r) => r.grouping === 'provider')
      .map((r) => ({ provider: r.provider!, ...figures(r) }))
      .sort(byCost((t) => t.provider)),
    by_day: rows
      .filter((r) => r.grouping === 'day')
      .map((r) => ({ day: r.day!, ...figures(r) }))
      .sort((a, b) => (a.day < b.day ? -1 : 1)),
    by_task_type: taskRows
      .map((r) => ({ task_type: r.task_type, calls: num(r.calls), tokens: num(r.tokens), cost_usd: num(r.cost_usd) }))
      .sort(byCost((t) => t.task_type)),
  };
}
