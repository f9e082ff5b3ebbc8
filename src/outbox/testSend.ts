/**
 * `vigil notify test`: one test notification through one channel, now, outside the outbox (nothing
 * is queued or retried), with what the provider answered. Targets are shown masked only.
 */
import { hostname } from 'node:os';
import type { Notification, SendResult } from '../channels/channel.js';
import type { InterventionLevelName } from '../channels/levels.js';
import { uuidv7 } from '../events/uuid7.js';
import type { AssembledDirectory } from './channelDirectory.js';

/** A test send is abandoned after this long, whatever the channel's own timeout. */
export const TEST_SEND_TIMEOUT_MS = 60_000;

export interface TestSendResult {
  channel: string;
  target: string;
  target_masked: string;
  outcome: SendResult['outcome'];
  status: string | null;
  duration_ms: number;
  provider_id: string | null;
  retry_after_ms: number | null;
  target_gone: boolean;
  error: string | null;
}

export class TestSendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TestSendError';
  }
}

export function testNotification(channel: string, level: InterventionLevelName, now = Date.now()): Notification {
  const at = new Date(now).toISOString();
  return {
    delivery_id: uuidv7(now),
    intervention_id: uuidv7(now),
    task_id: null,
    level,
    title: 'Vigil test notification',
    message: `A test sent by "vigil notify test" from ${hostname()} at ${at}: the ${channel} channel works.`,
    reasons: ['TEST'],
    context: { test: true },
    timestamp: at,
    action_url: null,
  };
}

/** Sends to `target` (or every target of the channel, one after another). */
export async function sendTest(dir: AssembledDirectory, channel: string, opts: { target?: string; level?: InterventionLevelName } = {}): Promise<TestSendResult[]> {
  const ch = dir.channel(channel);
  if (!ch) {
    const names = dir.names();
    throw new TestSendError(`channel "${channel}" is not configured here (configured: ${names.length ? names.join(', ') : 'none'}); see docs/channels.md`);
  }
  const all = dir.targets(channel);
  const targets = opts.target === undefined ? all : all.filter((t) => t.name === opts.target);
  if (targets.length === 0) {
    throw new TestSendError(
      opts.target === undefined ? `channel "${channel}" has no target` : `channel "${channel}" has no target named "${opts.target}" (targets: ${all.map((t) => t.name).join(', ') || 'none'})`,
    );
  }
  const out: TestSendResult[] = [];
  for (const t of targets) {
    const signal = AbortSignal.timeout(TEST_SEND_TIMEOUT_MS);
    let r: SendResult;
    try {
      r = await ch.send(testNotification(channel, opts.level ?? 'INFO'), t, signal);
    } catch (err) {
      r = { outcome: 'retryable', status: 'INTERNAL_ERROR', error: `the ${channel} channel failed: ${(err as Error).message}`, durationMs: 0 };
    }
    out.push({
      channel,
      target: t.name,
      target_masked: dir.maskTarget(channel, t.name),
      outcome: r.outcome,
      status: r.status === null || r.status === undefined ? null : String(r.status),
      duration_ms: Math.round(r.durationMs * 10) / 10,
      provider_id: r.providerId ?? null,
      retry_after_ms: r.retryAfterMs ?? null,
      target_gone: r.targetGone === true,
      error: r.error ?? null,
    });
  }
  return out;
}
