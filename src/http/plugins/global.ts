/**
 * Marks a plugin as global: what it adds (hooks, decorators, handlers) applies to the whole app,
 * not only to its own encapsulated context. This is what the `fastify-plugin` package does.
 */
import type { FastifyPluginAsync } from 'fastify';

export function globalPlugin<O extends Record<string, unknown>>(name: string, plugin: FastifyPluginAsync<O>): FastifyPluginAsync<O> {
  const p = plugin as FastifyPluginAsync<O> & Record<symbol, unknown>;
  p[Symbol.for('skip-override')] = true;
  p[Symbol.for('fastify.display-name')] = name;
  return p;
}
