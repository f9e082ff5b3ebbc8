/* global self, clients, URL */
/**
 * Vigil's service worker: shows Web Push notifications sent by the server's push channel
 * (payload `{title, body, badge, data: {task_id, level, timestamp}, action}`), and opens the
 * notification's link (or the dashboard's interventions) on a click. Text only: the payload is never turned into HTML.
 */
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let p;
  try {
    p = event.data ? event.data.json() : {};
  } catch {
    p = { title: 'Vigil', body: event.data ? event.data.text() : '' };
  }
  const data = p.data || {};
  const title = typeof p.title === 'string' && p.title !== '' ? p.title : 'Vigil: intervention';
  event.waitUntil(
    self.registration.showNotification(title, {
      body: typeof p.body === 'string' ? p.body : '',
      tag: data.task_id ? `vigil-task-${data.task_id}` : undefined,
      requireInteraction: data.level === 'CRITICAL' || data.level === 'URGENT',
      data: { action: typeof p.action === 'string' ? p.action : null },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const action = event.notification.data && event.notification.data.action;
  // The server's own paths (`/interventions/<id>`, `/tasks/<id>/review`) redirect to the dashboard's
  // page for them; absolute http(s) links (a configured action_url) open as they are.
  const url = typeof action === 'string' && (/^https?:\/\//.test(action) || /^\/[^/]/.test(action)) ? action : '/#/interventions';
  event.waitUntil(
    clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
      for (const c of list) {
        if (new URL(c.url).origin === self.location.origin && 'focus' in c) {
          if (url.startsWith('/')) c.navigate(url);
          return c.focus();
        }
      }
      return clients.openWindow(url);
    }),
  );
});
