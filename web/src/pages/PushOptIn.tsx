/**
 * Web Push opt-in: registers the service worker (web/public/sw.js), subscribes with the server's
 * VAPID public key and hands the subscription to the server. Needs a user token, a secure context
 * (https or localhost) and the person's permission.
 */
import { useEffect, useState } from 'react';
import { api, errorText } from '../api';
import { Card } from '../ui';

function base64UrlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

type PushState = 'unsupported' | 'checking' | 'off' | 'on' | 'denied';

export function PushOptIn() {
  const supported = 'serviceWorker' in navigator && 'PushManager' in window && window.isSecureContext;
  const [state, setState] = useState<PushState>(supported ? 'checking' : 'unsupported');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!supported) return;
    if (Notification.permission === 'denied') return setState('denied');
    navigator.serviceWorker
      .getRegistration('/')
      .then(async (reg) => setState(reg && (await reg.pushManager.getSubscription()) ? 'on' : 'off'))
      .catch(() => setState('off'));
  }, [supported]);

  async function enable() {
    setError(null);
    try {
      const { public_key } = await api<{ public_key: string }>('/v1/push/vapid-public-key');
      if ((await Notification.requestPermission()) !== 'granted') return setState('denied');
      const reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
      await navigator.serviceWorker.ready;
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(public_key) });
      await api('/v1/push/subscriptions', { method: 'POST', body: sub.toJSON() });
      setState('on');
    } catch (err) {
      setError(errorText(err));
    }
  }
  async function disable() {
    setError(null);
    try {
      const reg = await navigator.serviceWorker.getRegistration('/');
      const sub = await reg?.pushManager.getSubscription();
      if (sub) {
        await api('/v1/push/subscriptions', { method: 'DELETE', body: { endpoint: sub.endpoint } });
        await sub.unsubscribe();
      }
      setState('off');
    } catch (err) {
      setError(errorText(err));
    }
  }
  return (
    <Card title="Push notifications">
      {state === 'unsupported' && <p className="state empty">This browser cannot receive Web Push here (it needs https or localhost, and a service worker).</p>}
      {state === 'checking' && <p className="state loading">Checking…</p>}
      {state === 'denied' && <p className="state empty">Notifications are blocked for this site in the browser's settings.</p>}
      {state === 'off' && (
        <>
          <p>Get a system notification for interventions even when this tab is closed.</p>
          <button type="button" className="primary" onClick={enable}>
            Enable push notifications
          </button>
        </>
      )}
      {state === 'on' && (
        <>
          <p>Push notifications are on for this browser.</p>
          <button type="button" onClick={disable}>
            Turn off
          </button>
        </>
      )}
      {error && (
        <p className="state error" role="alert">
          {error}
        </p>
      )}
    </Card>
  );
}
