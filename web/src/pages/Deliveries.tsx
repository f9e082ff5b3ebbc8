/** Deliveries: dead ones and those failing (waiting to retry), with their errors, attempts and a retry button. */
import { useState } from 'react';
import { api, errorText } from '../api';
import { listDeliveries } from '../data';
import { ago, count, time } from '../format';
import { useAsync } from '../hooks';
import type { Delivery } from '../types';
import { Load, Status } from '../ui';
import { DeliveryAttempts } from './Interventions';

const VIEWS = [
  { id: 'failing', label: 'Dead and failing' },
  { id: 'dead', label: 'Dead' },
  { id: 'pending', label: 'Waiting' },
  { id: 'sent', label: 'Sent' },
  { id: 'all', label: 'All' },
] as const;
const LIMIT = 200;

async function load(view: string, channel: string, signal: AbortSignal): Promise<Delivery[]> {
  const q = { channel, attempts: true, limit: LIMIT };
  if (view === 'failing') {
    const [dead, pending] = await Promise.all([listDeliveries({ ...q, status: 'dead' }, signal), listDeliveries({ ...q, status: 'pending' }, signal)]);
    return [...dead, ...pending.filter((d) => d.attempt_count > 0 || d.last_error)].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  }
  return listDeliveries({ ...q, status: view === 'all' ? undefined : view }, signal);
}

export function Deliveries() {
  const [view, setView] = useState<string>('failing');
  const [channel, setChannel] = useState('');
  const [channelDraft, setChannelDraft] = useState('');
  const list = useAsync((signal) => load(view, channel, signal), [view, channel], 10_000);
  return (
    <>
      <div className="toolbar">
        <div className="tabs" role="tablist" aria-label="Deliveries">
          {VIEWS.map((v) => (
            <button key={v.id} type="button" role="tab" aria-selected={v.id === view} className={v.id === view ? 'active' : undefined} onClick={() => setView(v.id)}>
              {v.label}
            </button>
          ))}
        </div>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setChannel(channelDraft.trim());
          }}
        >
          <label>
            Channel <input value={channelDraft} onChange={(e) => setChannelDraft(e.target.value)} placeholder="any" size={10} />
          </label>
        </form>
      </div>
      <Load state={list} empty={(l) => l.length === 0} emptyText={view === 'failing' ? 'No delivery is failing.' : 'No delivery here.'}>
        {(l) => (
          <ul className="cards" data-testid="deliveries-list">
            {l.map((d) => (
              <DeliveryCard key={d.id} d={d} onRetried={list.reload} />
            ))}
          </ul>
        )}
      </Load>
    </>
  );
}

function DeliveryCard({ d, onRetried }: { d: Delivery; onRetried: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [open, setOpen] = useState(false);
  async function retry() {
    setBusy(true);
    setError(null);
    try {
      await api(`/v1/deliveries/${encodeURIComponent(d.id)}/retry`, { method: 'POST' });
      setDone(true);
      onRetried();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <li className="card delivery" data-testid="delivery" data-status={d.status}>
      <div className="delivery-head">
        <strong>{d.channel}</strong>
        <span>→ {d.target}</span>
        <Status status={d.status} />
        <span className="muted">
          {count(d.attempt_count)}/{count(d.max_attempts)} attempts · {ago(d.created_at)}
        </span>
      </div>
      {d.title && <div>{d.title}</div>}
      {d.last_error && <div className="error-text">{d.last_status ? `${d.last_status}: ` : ''}{d.last_error}</div>}
      {d.status === 'pending' && d.next_attempt_at && <div className="muted">next attempt {time(d.next_attempt_at)}</div>}
      <div className="actions">
        {(d.status === 'dead' || d.status === 'pending') && (
          <button type="button" className="primary" disabled={busy || done} onClick={retry}>
            {done ? 'Queued' : 'Retry now'}
          </button>
        )}
        <button type="button" className="link" onClick={() => setOpen(!open)}>
          {open ? 'Hide attempts' : 'Show attempts'}
        </button>
        {d.intervention_id && <a href="#/interventions">Intervention</a>}
      </div>
      {open && <DeliveryAttempts list={[d]} />}
      {error && (
        <p className="state error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
