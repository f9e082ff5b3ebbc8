/**
 * Errors recorded per task, as the original `record_error` / `reset_error_count`, backed by the
 * database: `POST /v1/tasks/{task_id}/errors` writes a `task_failed` event and evaluates the
 * stream rules on it (the errors rule opens an URGENT ERROR_THRESHOLD intervention at the
 * threshold); `DELETE` forgets the task's count; `GET` reads it. `respond` to act, `read` to read.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { InterventionService } from '../../interventions/service.js';
import { calling, errors } from './interventions.js';

export interface TaskRoutesOptions extends Record<string, unknown> {
  interventions: InterventionService;
}

const PARAMS = { type: 'object', properties: { task_id: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['task_id'] } as const;

export const taskRoutes: FastifyPluginAsync<TaskRoutesOptions> = async (app, { interventions: svc }) => {
  app.post<{ Params: { task_id: string }; Body: { message: string; type?: string } }>(
    '/v1/tasks/:task_id/errors',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Record an error of a task',
        description: 'Writes a task_failed event and evaluates the stream rules on it in one transaction; answers the errors now counted and the interventions it opened or raised.',
        tags: ['interventions'],
        params: PARAMS,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['message'],
          properties: { message: { type: 'string', minLength: 1, maxLength: 8192 }, type: { type: 'string', minLength: 1, maxLength: 200, description: 'e.g. TimeoutError' } },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              event_id: { type: 'string', format: 'uuid' },
              error_count: { type: 'integer' },
              interventions: { type: 'array', items: { type: 'string', format: 'uuid' }, description: 'Ids of interventions this error opened or added an occurrence to.' },
            },
            required: ['event_id', 'error_count', 'interventions'],
          },
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const r = await calling(() => svc.recordError(req.params.task_id, { message: req.body.message, type: req.body.type }));
      return reply.code(201).send({ event_id: r.event_id, error_count: r.error_count, interventions: r.triggered.map((t) => t.intervention.id) });
    },
  );

  app.get<{ Params: { task_id: string } }>(
    '/v1/tasks/:task_id/errors',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Errors counted for a task',
        tags: ['interventions'],
        params: PARAMS,
        response: { 200: { type: 'object', properties: { task_id: { type: 'string' }, error_count: { type: 'integer' } }, required: ['task_id', 'error_count'] }, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => ({ task_id: req.params.task_id, error_count: await svc.errorCount(req.params.task_id) }),
  );

  app.delete<{ Params: { task_id: string } }>(
    '/v1/tasks/:task_id/errors',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Reset the error count of a task',
        description: 'Forgets the errors counted for it: the errors rule can fire for it again.',
        tags: ['interventions'],
        params: PARAMS,
        response: { 200: { type: 'object', properties: { task_id: { type: 'string' }, forgotten: { type: 'integer' } }, required: ['task_id', 'forgotten'] }, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => ({ task_id: req.params.task_id, forgotten: await calling(() => svc.resetErrorCount(req.params.task_id)) }),
  );
};
