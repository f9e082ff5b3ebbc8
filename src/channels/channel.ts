/**
 * The one interface every notification channel implements. A channel renders a notification for
 * its provider, sends it once, and says what happened; the outbox, not the channel, decides
 * whether and when to retry.
 */
import type { InterventionLevelName } from './levels.js';

/** What people are told: one intervention change, rendered by each channel its own way. */
export interface Notification {
  /** Stable per delivery: the idempotency key where a provider accepts one (webhook-id). */
  delivery_id: string;
  intervention_id: string;
  task_id: string | null;
  level: InterventionLevelName;
  /** e.g. `Intervention Required for Task task_123` */
  title: string;
  message: string;
  /** Reason codes, e.g. ['ERROR_THRESHOLD', 'COMPLIANCE_CHECK']. */
  reasons: string[];
  /** Free context (JSON object) carried along to webhook and WebSocket receivers. */
  context: Record<string, unknown>;
  /** ISO 8601: when the intervention change happened. */
  timestamp: string;
  /** Where a person acts on it, e.g. `/interventions/<id>` (relative to the dashboard). */
  action_url: string | null;
}

export type SendOutcome = 'ok' | 'retryable' | 'permanent';

export interface SendResult {
  outcome: SendOutcome;
  /** Provider status: HTTP status, SMTP reply code, or an error code; null when none came back. */
  status: number | string | null;
  /** Human, secret-free explanation (masked URLs, no tokens, no phone numbers in clear). */
  error?: string;
  /** The provider asked us to wait this long before retrying (Retry-After, Discord retry_after). */
  retryAfterMs?: number;
  /** Provider's id for what it accepted (Twilio sid, SMTP message id, FCM name). */
  providerId?: string;
  durationMs: number;
  /** The target is gone for good (deleted webhook, unregistered token): stop using it. */
  targetGone?: boolean;
}

/** A configured channel target: a webhook URL, an address, a phone number, a device token. */
export interface ChannelTarget {
  /** Channel kind, e.g. 'discord'. */
  channel: string;
  /** The target's address; secret: never logged or shown unmasked. */
  address: string;
  /** Channel-specific extras (e.g. the push platform), never secret. */
  options?: Record<string, unknown>;
}

export interface Channel {
  readonly name: string;
  send(notification: Notification, target: ChannelTarget, signal?: AbortSignal): Promise<SendResult>;
  /** A masked form of a target's address, safe for logs and API answers. */
  mask(target: ChannelTarget): string;
  close?(): Promise<void>;
}
