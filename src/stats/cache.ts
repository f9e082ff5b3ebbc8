/** `cache`: operations, hits, misses and hit ratio per operation, from `cache_operation`. */
import type { Queryable } from '../store/store.js';
import { byCountThenName, echoRange, num, rangeParams, ratio, SQL, type Range } from './range.js';
import type { CacheFigures, CacheStats } from './types.js';

/** `hit_miss` counts as a hit or a miss when it says so, in any case; other values only as operations. */
const CACHE_SQL = `
WITH src AS (
  SELECT operation, operations, hits, misses
    FROM stats_cache_hourly
   WHERE ${SQL.hours}
  UNION ALL
  SELECT coalesce(log_metadata ->> 'operation', ''), 1,
         CASE WHEN lower(log_metadata ->> 'hit_miss') = 'hit' THEN 1 ELSE 0 END,
         CASE WHEN lower(log_metadata ->> 'hit_miss') = 'miss' THEN 1 ELSE 0 END
    FROM logs
   WHERE event_type = 'cache_operation' AND ${SQL.edges}
)
SELECT operation, sum(operations)::float8 AS operations, sum(hits)::float8 AS hits, sum(misses)::float8 AS misses
  FROM src
 GROUP BY operation`;

interface Row {
  operation: string;
  operations: number;
  hits: number;
  misses: number;
}

function figures(operations: number, hits: number, misses: number): CacheFigures {
  return { operations, hits, misses, hit_ratio: ratio(hits, hits + misses) };
}

export async function cache(db: Queryable, range: Range): Promise<CacheStats> {
  const { rows } = await db.query<Row>(CACHE_SQL, rangeParams(range));
  const by = rows.map((r) => ({ operation: r.operation, ...figures(num(r.operations), num(r.hits), num(r.misses)) }));
  const sum = (k: 'operations' | 'hits' | 'misses') => by.reduce((s, r) => s + r[k], 0);
  return {
    ...echoRange(range),
    total: figures(sum('operations'), sum('hits'), sum('misses')),
    by_operation: by.sort(byCountThenName((r) => r.operations, (r) => r.operation)),
  };
}
