/**
 * The JSON shapes of the statistics (`GET /v1/stats/<name>`), documented in docs/stats.md.
 * Every figure is a JSON number; lists are sorted by their main count, largest first, then by name.
 */

export type StatName = 'costs' | 'agents' | 'tasks' | 'cache' | 'errors' | 'security' | 'database';

/** The range asked for: `since` inclusive, `until` exclusive, ISO 8601 in UTC; null when open. */
export interface StatsRange {
  since: string | null;
  until: string | null;
}

export interface CostFigures {
  calls: number;
  tokens: number;
  cost_usd: number;
}

/** `/v1/stats/costs`, from `model_called` events. */
export interface CostsStats extends StatsRange {
  total: CostFigures;
  by_model: (CostFigures & { model_name: string })[];
  by_provider: (CostFigures & { provider: string })[];
  /** UTC calendar days, oldest first; only days with calls. */
  by_day: (CostFigures & { day: string })[];
  /** By the `task_type` the model calls named ('' for calls that named none). */
  by_task_type: (CostFigures & { task_type: string })[];
}

/**
 * Durations from a log-scale histogram: each percentile is within PERCENTILE_ERROR_BOUND (relative)
 * of the exact nearest-rank percentile; `avg_ms` is exact. All null when nothing was timed.
 */
export interface DurationFigures {
  /** How many events carried a duration. */
  count: number;
  avg_ms: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
}

/** `/v1/stats/agents`, from `agent_executed` events. */
export interface AgentsStats extends StatsRange {
  percentile_error_bound: number;
  agents: {
    agent_name: string;
    executions: number;
    /** Executions whose status is `success` (case-insensitive). */
    successes: number;
    /** successes / executions. */
    success_rate: number;
    execution_time: DurationFigures;
  }[];
}

/** `/v1/stats/tasks`, from `task_created`, `task_completed` and `task_failed` events. */
export interface TasksStats extends StatsRange {
  percentile_error_bound: number;
  created: number;
  completed: number;
  failed: number;
  /** completed / (completed + failed); null when neither happened. */
  success_rate: number | null;
  /** From `task_completed.execution_time_ms`. */
  completion_time: DurationFigures;
}

export interface CacheFigures {
  operations: number;
  hits: number;
  misses: number;
  /** hits / (hits + misses); null when no operation reported a hit or a miss. */
  hit_ratio: number | null;
}

/** `/v1/stats/cache`, from `cache_operation` events. */
export interface CacheStats extends StatsRange {
  total: CacheFigures;
  by_operation: (CacheFigures & { operation: string })[];
}

/** `/v1/stats/errors`, from `error` events and `task_failed` events. */
export interface ErrorsStats extends StatsRange {
  /** `error` events. */
  errors: number;
  /** `task_failed` events. */
  task_failures: number;
  /** `error` events by component. */
  by_component: { component: string; errors: number }[];
  /** Both sources by error type; `error_type` is null for task failures that gave none. */
  by_error_type: { error_type: string | null; errors: number; task_failures: number; total: number }[];
  /** `error` events by component and error type. */
  by_component_and_type: { component: string; error_type: string; errors: number }[];
}

/** `/v1/stats/security`, from `permission_denied` events. */
export interface SecurityStats extends StatsRange {
  denials: number;
  distinct_users: number;
  distinct_resources: number;
  /** The SECURITY_TOP_N users with the most denials. */
  by_user: { user_id: string; denials: number }[];
  /** The SECURITY_TOP_N resources with the most denials. */
  by_resource: { resource: string; denials: number }[];
}

/** `/v1/stats/database`, from `database_query` events. */
export interface DatabaseStats extends StatsRange {
  percentile_error_bound: number;
  tables: { table_name: string; queries: number; execution_time: DurationFigures }[];
}
