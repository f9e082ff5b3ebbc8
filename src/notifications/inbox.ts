/**
 * In-app notifications: inserting them (the in-app channel), listing a user's inbox newest first
 * with a keyset cursor on the id, the unread count, marking read. Every query names the user, so
 * one user can never read or mark another's rows.
 */
import type { Queryable } from '../store/store.js';

export interface InboxNotification {
  id: string;
  user_id: string;
  title: string;
  message: string;
  notification_type: string;
  is_read: boolean;
  created_at: string;
  read_at: string | null;
  action_url: string | null;
  metadata: Record<string, unknown>;
}

export interface NewNotification {
  title: string;
  message: string;
  notification_type: string;
  action_url: string | null;
  metadata: Record<string, unknown>;
  /** The outbox delivery: inserting it twice for one user adds nothing. */
  delivery_id: string | null;
}

export const DEFAULT_INBOX_LIMIT = 50;
export const MAX_INBOX_LIMIT = 200;

const COLUMNS = 'id, user_id, title, message, notification_type, is_read, created_at, read_at, action_url, metadata';

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());

function toNotification(r: Record<string, unknown>): InboxNotification {
  return {
    id: String(r.id),
    user_id: r.user_id as string,
    title: r.title as string,
    message: r.message as string,
    notification_type: r.notification_type as string,
    is_read: r.is_read as boolean,
    created_at: iso(r.created_at)!,
    read_at: iso(r.read_at),
    action_url: (r.action_url as string | null) ?? null,
    metadata: (typeof r.metadata === 'string' ? JSON.parse(r.metadata) : r.metadata) as Record<string, unknown>,
  };
}

/** One row per user (set-based); a repeated delivery adds no second row. Answers the new rows. */
export async function insertNotifications(db: Queryable, userIds: readonly string[], n: NewNotification): Promise<InboxNotification[]> {
  if (userIds.length === 0) return [];
  const { rows } = await db.query(
    `INSERT INTO notifications (user_id, title, message, notification_type, action_url, metadata, delivery_id)
     SELECT u, $2, $3, $4, $5, $6::jsonb, $7::uuid FROM unnest($1::uuid[]) AS u
     ON CONFLICT (delivery_id, user_id) DO NOTHING
     RETURNING ${COLUMNS}`,
    [[...userIds], n.title, n.message, n.notification_type, n.action_url, JSON.stringify(n.metadata), n.delivery_id],
  );
  return rows.map(toNotification);
}

export const encodeInboxCursor = (id: string): string => Buffer.from(`n:${id}`).toString('base64url');

/** The id a cursor stands for, or null when it is not one this API issued. */
export function decodeInboxCursor(c: string): string | null {
  const m = /^n:(\d{1,18})$/.exec(Buffer.from(c, 'base64url').toString());
  return m ? m[1] : null;
}

export interface InboxPage {
  notifications: InboxNotification[];
  next_cursor: string | null;
}

/** A user's notifications, newest first; `before` is a decoded cursor. */
export async function listInbox(db: Queryable, userId: string, q: { unread?: boolean; before?: string | null; limit?: number }): Promise<InboxPage> {
  const limit = Math.min(q.limit ?? DEFAULT_INBOX_LIMIT, MAX_INBOX_LIMIT);
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM notifications
      WHERE user_id = $1 AND (NOT $2::boolean OR NOT is_read) AND ($3::bigint IS NULL OR id < $3::bigint)
      ORDER BY id DESC LIMIT $4`,
    [userId, q.unread === true, q.before ?? null, limit + 1],
  );
  const page = rows.slice(0, limit).map(toNotification);
  return { notifications: page, next_cursor: rows.length > limit ? encodeInboxCursor(page[page.length - 1].id) : null };
}

export async function unreadCount(db: Queryable, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM notifications WHERE user_id = $1 AND NOT is_read', [userId]);
  return rows[0].n;
}

/** Marks one of the user's notifications read (idempotent); null when the user has no such row. */
export async function markRead(db: Queryable, userId: string, id: string): Promise<InboxNotification | null> {
  const { rows } = await db.query(
    `UPDATE notifications SET is_read = true, read_at = coalesce(read_at, now())
      WHERE user_id = $1 AND id = $2::bigint RETURNING ${COLUMNS}`,
    [userId, id],
  );
  return rows.length === 0 ? null : toNotification(rows[0]);
}

/** Marks every unread notification of the user read; answers how many changed. */
export async function markAllRead(db: Queryable, userId: string): Promise<number> {
  const { rowCount } = await db.query('UPDATE notifications SET is_read = true, read_at = now() WHERE user_id = $1 AND NOT is_read', [userId]);
  return rowCount;
}
