/**
 * What a push message says, rendered once from a Notification and then dressed by each provider:
 * the original's shape `{title, body (first 100 chars), badge: 1, data: {task_id, level, timestamp},
 * action: "/tasks/<id>/review"}`, plus the per-level urgency each provider expresses its own way.
 */
import { createHash } from 'node:crypto';
import type { Notification } from '../channel.js';
import type { InterventionLevelName } from '../levels.js';

/** The original's body is the first 100 characters of the message. */
export const PUSH_BODY_MAX_CHARS = 100;
/**
 * Titles are cut too, so that every payload stays far below the smallest provider limit:
 * Web Push 4096 bytes per message (RFC 8291 §4: 3993 bytes of plaintext), APNs 4096 bytes,
 * FCM 4096 bytes (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
 */
export const PUSH_TITLE_MAX_CHARS = 120;

export interface PushPayload {
  title: string;
  body: string;
  badge: 1;
  data: { task_id: string | null; level: InterventionLevelName; timestamp: string };
  /** Where the dashboard opens on a click: `/tasks/<id>/review`. */
  action: string;
}

/** One notification, ready for any push provider. */
export interface PushMessage {
  payload: PushPayload;
  level: InterventionLevelName;
  /** Same for every notification about one intervention, so a newer one replaces an older one. */
  collapseId: string;
  ttlSeconds: number;
}

/** Cuts to at most `max` characters without splitting a surrogate pair. */
export function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join('');
}

export function renderPushPayload(n: Notification): PushPayload {
  const action =
    n.task_id !== null
      ? `/tasks/${encodeURIComponent(n.task_id)}/review`
      : (n.action_url ?? `/interventions/${encodeURIComponent(n.intervention_id)}`);
  return {
    title: cut(n.title, PUSH_TITLE_MAX_CHARS),
    body: cut(n.message, PUSH_BODY_MAX_CHARS),
    badge: 1,
    data: { task_id: n.task_id, level: n.level, timestamp: n.timestamp },
    action,
  };
}

export function pushMessage(n: Notification, ttlSeconds: number): PushMessage {
  return { payload: renderPushPayload(n), level: n.level, collapseId: collapseId(n.intervention_id), ttlSeconds };
}

/**
 * A collapse key at most 32 URL-safe characters: the Web Push `Topic` limit (RFC 8030 §5.4), which
 * also fits `apns-collapse-id` (64 bytes). A UUID without its dashes is exactly 32 hex digits.
 */
export function collapseId(interventionId: string): string {
  const plain = interventionId.replace(/-/g, '');
  if (/^[A-Za-z0-9_]{1,32}$/.test(plain)) return plain;
  return createHash('sha256').update(interventionId).digest('base64url').slice(0, 32);
}

/** True for the levels that must reach someone now (URGENT, CRITICAL). */
export function isUrgent(level: InterventionLevelName): boolean {
  return level === 'URGENT' || level === 'CRITICAL';
}

/** RFC 8030 §5.3 Urgency: CRITICAL/URGENT high, WARNING normal, INFO low. */
export function webPushUrgency(level: InterventionLevelName): 'high' | 'normal' | 'low' {
  if (isUrgent(level)) return 'high';
  return level === 'WARNING' ? 'normal' : 'low';
}
