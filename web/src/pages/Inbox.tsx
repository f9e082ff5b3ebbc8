/**
 * The signed-in user's in-app notifications: live over the stream, unread filter, mark read and
 * mark all read, action links; and the Web Push opt-in.
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { time } from '../format';
import { useAsync } from '../hooks';
import { INBOX_CHANGED } from '../inbox';
import { useStream } from '../stream';
import type { InboxNotification } from '../types';
import { Card, ErrorBox, Load, SafeLink } from '../ui';
import { PushOptIn } from './PushOptIn';

interface InboxPage {
  notifications: InboxNotification[];
  next_cursor: string | null;
  unread_count: number;
}

const PAGE = 50;

export function Inbox() {
  const [unreadOnly, setUnreadOnly] = useState(false);
  const first = useAsync((signal) => api<InboxPage>('/v1/notifications', { query: { unread: unreadOnly || undefined, limit: PAGE }, signal }), [unreadOnly]);
  const [items, setItems] = useState<InboxNotification[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    if (!first.data) return;
    setItems(first.data.notifications);
    setNext(first.data.next_cursor);
  }, [first.data]);
  useStream(['notifications'], (m) => {
    if (m.type !== 'notification') return;
    const n = m.data as InboxNotification | undefined;
    if (!n || typeof n.id !== 'string') return;
    setItems((list) => (list.some((x) => x.id === n.id) ? list : [n, ...list]));
  });

  const changed = () => window.dispatchEvent(new Event(INBOX_CHANGED));
  async function read(n: InboxNotification) {
    setError(undefined);
    try {
      const updated = await api<InboxNotification>(`/v1/notifications/${encodeURIComponent(n.id)}/read`, { method: 'POST' });
      setItems((list) => (unreadOnly ? list.filter((x) => x.id !== n.id) : list.map((x) => (x.id === n.id ? updated : x))));
      changed();
    } catch (err) {
      setError(err);
    }
  }
  async function readAll() {
    setError(undefined);
    try {
      await api('/v1/notifications/read-all', { method: 'POST' });
      setItems((list) => (unreadOnly ? [] : list.map((x) => ({ ...x, is_read: true, read_at: x.read_at ?? new Date().toISOString() }))));
      changed();
    } catch (err) {
      setError(err);
    }
  }
  async function more() {
    if (!next) return;
    try {
      const page = await api<InboxPage>('/v1/notifications', { query: { unread: unreadOnly || undefined, limit: PAGE, cursor: next } });
      setItems((list) => [...list, ...page.notifications]);
      setNext(page.next_cursor);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <div className="grid">
      <Card title="Notifications" className="wide">
        <div className="toolbar">
          <label className="toggle">
            <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} /> Unread only
          </label>
          <button type="button" onClick={readAll} disabled={!items.some((n) => !n.is_read)}>
            Mark all read
          </button>
        </div>
        {error !== undefined && <ErrorBox error={error} />}
        <Load state={first} empty={() => items.length === 0} emptyText={unreadOnly ? 'Nothing unread.' : 'Your inbox is empty. Interventions routed to the in-app channel land here.'}>
          {() => (
            <ul className="inbox" data-testid="inbox-list">
              {items.map((n) => (
                <li key={n.id} className={n.is_read ? 'read' : 'unread'}>
                  <div className="inbox-head">
                    <span className={`badge type-${n.notification_type.replace(/[^a-z0-9_-]/gi, '')}`}>{n.notification_type.replace(/^intervention_/, '')}</span>
                    <strong>{n.title}</strong>
                    <span className="muted nowrap">{time(n.created_at)}</span>
                  </div>
                  <p className="message">{n.message}</p>
                  <div className="inbox-actions">
                    {n.action_url && <SafeLink href={n.action_url}>Open</SafeLink>}
                    {!n.is_read && (
                      <button type="button" className="link" onClick={() => read(n)}>
                        Mark read
                      </button>
                    )}
                  </div>
                </li>
              ))}
            </ul>
          )}
        </Load>
        {next && (
          <button type="button" onClick={more}>
            Load more
          </button>
        )}
      </Card>
      <PushOptIn />
    </div>
  );
}

