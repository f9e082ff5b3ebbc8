/** `errors`: `error` events by component and error type, and `task_failed` events by error type. */
import type { Queryable } from '../store/store.js';
import { byCountThenName, echoRange, num, rangeParams, SQL, type Range } from './range.js';
import type { ErrorsStats } from './types.js';

/** One row per (event type, component, error type); '' stands for none (see the migration). */
const ERRORS_SQL = `
WITH src AS (
  SELECT event_type, component, error_type, errors
    FROM stats_errors_hourly
   WHERE ${SQL.hours}
  UNION ALL
  SELECT event_type, coalesce(log_metadata ->> 'component', ''), coalesce(log_metadata ->> 'error_type', ''), 1
    FROM logs
   WHERE event_type IN ('error', 'task_failed') AND ${SQL.edges}
)
SELECT event_type, component, error_type, sum(errors)::float8 AS errors
  FROM src
 GROUP BY event_type, component, error_type`;

interface Row {
  event_type: 'error' | 'task_failed';
  component: string;
  error_type: string;
  errors: number;
}

export async function errors(db: Queryable, range: Range): Promise<ErrorsStats> {
  const { rows } = await db.query<Row>(ERRORS_SQL, rangeParams(range));
  const byComponent = new Map<string, number>();
  const byType = new Map<string, { errors: number; task_failures: number }>();
  const byBoth: ErrorsStats['by_component_and_type'] = [];
  let errorCount = 0;
  let failureCount = 0;
  for (const r of rows) {
    const n = num(r.errors);
    const t = byType.get(r.error_type) ?? { errors: 0, task_failures: 0 };
    byType.set(r.error_type, t);
    if (r.event_type === 'error') {
      errorCount += n;
      t.errors += n;
      byComponent.set(r.component, (byComponent.get(r.component) ?? 0) + n);
      byBoth.push({ component: r.component, error_type: r.error_type, errors: n });
    } else {
      failureCount += n;
      t.task_failures += n;
    }
  }
  return {
    ...echoRange(range),
    errors: errorCount,
    task_failures: failureCount,
    by_component: [...byComponent].map(([component, n]) => ({ component, errors: n })).sort(byCountThenName((c) => c.errors, (c) => c.component)),
    by_error_type: [...byType]
      .map(([type, t]) => ({ error_type: type === '' ? null : type, ...t, total: t.errors + t.task_failures }))
      .sort(byCountThenName((t) => t.total, (t) => t.error_type ?? '')),
    by_component_and_type: byBoth.sort(byCountThenName((c) => c.errors, (c) => `${c.component}\u0000${c.error_type}`)),
  };
}
