/** `GET /metrics`: Prometheus text format. Public, like /healthz: it holds counts only. */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerMetrics } from '../metrics.js';

export interface MetricsRouteOptions extends Record<string, unknown> {
  metrics: ServerMetrics;
}

export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { metrics }) => {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'], produces: ['text/plain'] } }, async (_req, reply) => {
    reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    return metrics.registry.render();
  });
};
