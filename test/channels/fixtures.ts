/** Shared pieces of the channel tests: a notification, a log capture, the secret check, the guard. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Notification, SendResult } from '../../src/channels/channel.js';
import type { InterventionLevelName } from '../../src/channels/levels.js';
import { HttpClient } from '../../src/channels/http.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { openHandles } from '../helpers/stores.js';

export function notification(over: Partial<Notification> = {}): Notification {
  return {
    delivery_id: 'dlv_0192a7b3c4d5e6f7',
    intervention_id: 'int_0192a7b3',
    task_id: 'task_123',
    level: 'URGENT' as InterventionLevelName,
    title: 'Intervention Required for Task task_123',
    message: 'Task task_123 failed 3 times and mentions a contract.',
    reasons: ['ERROR_THRESHOLD', 'COMPLIANCE_CHECK'],
    context: { agent: 'ContentAgent', errors: 3 },
    timestamp: '2026-01-01T12:00:00.000Z',
    action_url: '/interventions/int_0192a7b3',
    ...over,
  };
}

/** Loopback is allow-listed explicitly, as tests must. */
export function testGuard(): UrlGuard {
  return new UrlGuard({ allow: ['127.0.0.1'] });
}

export function testHttp(): HttpClient {
  return new HttpClient({ guard: testGuard() });
}

/** A pino logger writing JSON lines into an array (what production logs would contain). */
export function captureLogs(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** Asserts that no secret (nor its URL-encoded form) appears in any result error or log line. */
export function assertNoSecrets(results: SendResult[], logLines: string[], secrets: string[]): void {
  const texts = [...results.map((r) => JSON.stringify(r)), ...logLines];
  for (const secret of secrets) {
    for (const t of texts) {
      assert.ok(!t.includes(secret) && !t.includes(encodeURIComponent(secret)), `secret ${secret.slice(0, 3)}… leaked into: ${t}`);
    }
  }
}

/** Expected outcome of one provider answer. */
export interface Expect {
  outcome: SendResult['outcome'];
  status?: SendResult['status'];
  retryAfterMs?: number;
  targetGone?: boolean;
  error?: RegExp;
}

export function assertResult(r: SendResult, e: Expect, label: string): void {
  assert.equal(r.outcome, e.outcome, `${label}: outcome (${r.error ?? ''})`);
  if (e.status !== undefined) assert.equal(r.status, e.status, `${label}: status`);
  assert.equal(r.retryAfterMs, e.retryAfterMs, `${label}: retryAfterMs`);
  assert.equal(r.targetGone ?? false, e.targetGone ?? false, `${label}: targetGone`);
  if (e.error) assert.match(r.error ?? '', e.error, `${label}: error`);
  if (e.outcome !== 'ok') assert.ok(r.error, `${label}: a failure explains itself`);
  assert.ok(r.durationMs >= 0);
}

/**
 * The open sockets and servers once closing ones are done (polls for up to 2 s: a client's socket
 * closes a moment after the server ends it).
 */
export async function settledHandles(): Promise<string[]> {
  for (let i = 0; i < 200 && openHandles().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  return openHandles();
}
