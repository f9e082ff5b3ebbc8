/**
 * JSON Schemas of the statistics' answers (types.ts), for the HTTP layer's response schemas and
 * the OpenAPI document. Every property is required; nothing else is allowed.
 */
import type { StatName } from './types.js';

type Schema = Record<string, unknown>;

const number: Schema = { type: 'number' };
const nullableNumber: Schema = { type: ['number', 'null'] };
const string: Schema = { type: 'string' };
const nullableString: Schema = { type: ['string', 'null'] };

function object(properties: Record<string, Schema>): Schema {
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}
const list = (items: Schema): Schema => ({ type: 'array', items });

const range = {
  since: { ...nullableString, description: 'The range asked for, inclusive; null when open.' },
  until: { ...nullableString, description: 'The range asked for, exclusive; null when open.' },
};
const durations = object({ count: number, avg_ms: nullableNumber, p50_ms: nullableNumber, p95_ms: nullableNumber });
const bound = { ...number, description: 'Relative error bound of every percentile in this answer.' };
const costFigures = { calls: number, tokens: number, cost_usd: number };
const cacheFigures = { operations: number, hits: number, misses: number, hit_ratio: nullableNumber };

export const STATS_SCHEMAS: Record<StatName, Schema> = {
  costs: object({
    ...range,
    total: object(costFigures),
    by_model: list(object({ model_name: string, ...costFigures })),
    by_provider: list(object({ provider: string, ...costFigures })),
    by_day: list(object({ day: string, ...costFigures })),
    by_task_type: list(object({ task_type: string, ...costFigures })),
  }),
  agents: object({
    ...range,
    percentile_error_bound: bound,
    agents: list(object({ agent_name: string, executions: number, successes: number, success_rate: number, execution_time: durations })),
  }),
  tasks: object({
    ...range,
    percentile_error_bound: bound,
    created: number,
    completed: number,
    failed: number,
    success_rate: nullableNumber,
    completion_time: durations,
  }),
  cache: object({ ...range, total: object(cacheFigures), by_operation: list(object({ operation: string, ...cacheFigures })) }),
  errors: object({
    ...range,
    errors: number,
    task_failures: number,
    by_component: list(object({ component: string, errors: number })),
    by_error_type: list(object({ error_type: nullableString, errors: number, task_failures: number, total: number })),
    by_component_and_type: list(object({ component: string, error_type: string, errors: number })),
  }),
  security: object({
    ...range,
    denials: number,
    distinct_users: number,
    distinct_resources: number,
    by_user: list(object({ user_id: string, denials: number })),
    by_resource: list(object({ resource: string, denials: number })),
  }),
  database: object({
    ...range,
    percentile_error_bound: bound,
    tables: list(object({ table_name: string, queries: number, execution_time: durations })),
  }),
};
