/** `security`: permission denials by user and by resource, from `permission_denied`. */
import type { Queryable } from '../store/store.js';
import { echoRange, num, rangeParams, SQL, type Range } from './range.js';
import type { SecurityStats } from './types.js';

/** Resources are often ids (`task_12345`): only the most denied users and resources are listed. */
export const SECURITY_TOP_N = 100;

/**
 * The top users and the top resources, each row carrying its list's distinct count and total
 * (window functions over the grouped rows, before LIMIT); ties in code-point order of the name.
 * `src` is read twice rather than materialised: both reads are plain scans, and a materialised
 * copy of a few hundred thousand rows would spill to disk.
 */
const SECURITY_SQL = `
WITH src AS NOT MATERIALIZED (
  SELECT user_id, resource, denials
    FROM stats_security_hourly
   WHERE ${SQL.hours}
  UNION ALL
  SELECT coalesce(log_metadata ->> 'user_id', ''), coalesce(log_metadata ->> 'resource', ''), 1
    FROM logs
   WHERE event_type = 'permission_denied' AND ${SQL.edges}
),
u AS (SELECT user_id AS name, sum(denials)::float8 AS denials, count(*) OVER ()::float8 AS n, sum(sum(denials)) OVER ()::float8 AS total
        FROM src GROUP BY user_id),
r AS (SELECT resource AS name, sum(denials)::float8 AS denials, count(*) OVER ()::float8 AS n, NULL::float8 AS total
        FROM src GROUP BY resource)
(SELECT 'user' AS list, * FROM u ORDER BY denials DESC, name COLLATE "C" LIMIT $7)
UNION ALL
(SELECT 'resource' AS list, * FROM r ORDER BY denials DESC, name COLLATE "C" LIMIT $7)`;

interface Row {
  list: 'user' | 'resource';
  name: string;
  denials: number;
  /** Distinct users or resources in the range. */
  n: number;
  /** All denials in the range (on user rows). */
  total: number | null;
}

export async function security(db: Queryable, range: Range): Promise<SecurityStats> {
  const { rows } = await db.query<Row>(SECURITY_SQL, [...rangeParams(range), SECURITY_TOP_N]);
  const users = rows.filter((r) => r.list === 'user');
  const resources = rows.filter((r) => r.list === 'resource');
  return {
    ...echoRange(range),
    denials: num(users[0]?.total ?? 0),
    distinct_users: num(users[0]?.n ?? 0),
    distinct_resources: num(resources[0]?.n ?? 0),
    by_user: users.map((r) => ({ user_id: r.name, denials: num(r.denials) })),
    by_resource: resources.map((r) => ({ resource: r.name, denials: num(r.denials) })),
  };
}
