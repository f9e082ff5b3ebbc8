/** The inbox's unread count, shared by the navigation badge and the Inbox page. */
import { useCallback, useEffect, useState } from 'react';
import { api } from './api';
import { useStream, type StreamMessage } from './stream';

/** Polling interval while the stream is down, and while it is up (a safety net). */
const POLL_DOWN_MS = 5_000;
const POLL_UP_MS = 30_000;

export const INBOX_CHANGED = 'vigil:inbox-changed';

export function isNotificationMessage(m: StreamMessage): boolean {
  return m.type === 'notification';
}

export function useUnreadCount(enabled: boolean): number | null {
  const [count, setCount] = useState<number | null>(null);
  const refresh = useCallback(() => {
    if (!enabled) return;
    api<{ unread_count: number }>('/v1/notifications/unread-count')
      .then((b) => setCount(b.unread_count))
      .catch(() => undefined);
  }, [enabled]);
  const state = useStream(
    ['notifications'],
    (m) => {
      if (!isNotificationMessage(m)) return;
      refresh();
    },
    enabled,
  );
  useEffect(() => {
    refresh();
    const t = setInterval(refresh, state === 'open' ? POLL_UP_MS : POLL_DOWN_MS);
    window.addEventListener(INBOX_CHANGED, refresh);
    return () => {
      clearInterval(t);
      window.removeEventListener(INBOX_CHANGED, refresh);
    };
  }, [refresh, state]);
  return count;
}
