/**
 * Interventions: open / acknowledged / resolved by level, a detail view with occurrences, the
 * notification decisions and every delivery attempt, acknowledge and resolve, and silences.
 * New and changed interventions arrive over the stream; the list also refreshes on a timer.
 */
import { useEffect, useRef, useState } from 'react';
import { api, errorText } from '../api';
import { listDeliveries, listInterventions } from '../data';
import { ago, count, ms, time } from '../format';
import { useAsync } from '../hooks';
import { useStream } from '../stream';
import type { Delivery, Intervention, InterventionDetail } from '../types';
import { INTERVENTION_LEVELS } from '../types';
import { Empty, Json, Level, Load, Status } from '../ui';
import { Silences } from './Silences';

const STATUSES = ['open', 'acknowledged', 'resolved'] as const;
const LIST_LIMIT = 200;

export function Interventions() {
  const [status, setStatus] = useState<(typeof STATUSES)[number]>('open');
  const [level, setLevel] = useState('');
  // `#/interventions?id=…` (where notification links lead) opens that intervention.
  const [selected, setSelected] = useState<string | null>(() => new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('id'));
  const list = useAsync((signal) => listInterventions({ status, level, limit: LIST_LIMIT }, signal), [status, level], 15_000);
  const [changed, setChanged] = useState(0);
  useStream(['interventions'], (m) => {
    if (m.type !== 'intervention') return;
    list.reload();
    // The open detail reloads when its intervention changed.
    if ((m.data as { id?: string } | undefined)?.id === selected) setChanged((n) => n + 1);
  });
  return (
    <>
      <div className="toolbar">
        <div className="tabs" role="tablist" aria-label="Status">
          {STATUSES.map((s) => (
            <button key={s} type="button" role="tab" aria-selected={s === status} className={s === status ? 'active' : undefined} onClick={() => setStatus(s)}>
              {s}
            </button>
          ))}
        </div>
        <label>
          Level{' '}
          <select value={level} onChange={(e) => setLevel(e.target.value)}>
            <option value="">all</option>
            {INTERVENTION_LEVELS.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </label>
      </div>
      <div className="split">
        <div className="list">
          <Load state={list} empty={(l) => l.length === 0} emptyText={`No ${status} intervention.`}>
            {(l) => <ByLevel list={l} selected={selected} onSelect={setSelected} />}
          </Load>
        </div>
        {selected && <Detail id={selected} key={`${selected}-${changed}`} onClose={() => setSelected(null)} onChanged={list.reload} />}
      </div>
      <Silences />
    </>
  );
}

function ByLevel({ list, selected, onSelect }: { list: Intervention[]; selected: string | null; onSelect: (id: string) => void }) {
  return (
    <>
      {INTERVENTION_LEVELS.map((level) => {
        const items = list.filter((i) => i.level === level);
        if (items.length === 0) return null;
        return (
          <section key={level} className="level-group">
            <h2>
              <Level level={level} /> {count(items.length)}
            </h2>
            <ul className="items">
              {items.map((i) => (
                <li key={i.id}>
                  <button type="button" className={`item ${selected === i.id ? 'selected' : ''}`} onClick={() => onSelect(i.id)} data-testid="intervention-item">
                    <span className="item-title">{i.title}</span>
                    <span className="muted">
                      {i.reasons.join(', ')} · {i.task_id ? `task ${i.task_id} · ` : ''}
                      {count(i.occurrences)}× · last {ago(i.last_seen)}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </>
  );
}

function Detail({ id, onClose, onChanged }: { id: string; onClose: () => void; onChanged: () => void }) {
  const detail = useAsync((signal) => api<InterventionDetail>(`/v1/interventions/${encodeURIComponent(id)}`, { signal }), [id]);
  const deliveries = useAsync((signal) => listDeliveries({ intervention_id: id, attempts: true, limit: 200 }, signal), [id], 10_000);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [note, setNote] = useState('');
  const panel = useRef<HTMLElement>(null);
  useEffect(() => {
    // On a phone the panel is below the list: bring it into view.
    if (window.innerWidth <= 760) panel.current?.scrollIntoView({ block: 'start' });
  }, [id]);
  async function act(action: 'ack' | 'resolve') {
    setBusy(true);
    setActionError(null);
    try {
      await api(`/v1/interventions/${encodeURIComponent(id)}/${action}`, { method: 'POST', body: action === 'resolve' && note.trim() !== '' ? { note: note.trim() } : {} });
      detail.reload();
      onChanged();
    } catch (err) {
      setActionError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <aside className="detail card" aria-label="Intervention detail" ref={panel}>
      <div className="detail-head">
        <h2>Intervention</h2>
        <button type="button" className="link" onClick={onClose}>
          Close
        </button>
      </div>
      <Load state={detail}>
        {(d) => {
          const i = d.intervention;
          return (
            <>
              <h3 className="detail-title">
                <Level level={i.level} /> {i.title}
              </h3>
              <p>
                <Status status={i.status} />
              </p>
              <p className="message">{i.message}</p>
              <dl>
                <dt>reasons</dt>
                <dd>{i.reasons.join(', ')}</dd>
                <dt>task</dt>
                <dd>{i.task_id ?? '—'}</dd>
                <dt>first seen</dt>
                <dd>{time(i.first_seen)}</dd>
                <dt>last seen</dt>
                <dd>{time(i.last_seen)}</dd>
                <dt>occurrences</dt>
                <dd>{count(i.occurrences)}</dd>
                <dt>source</dt>
                <dd>{i.source}</dd>
                {i.acknowledged_at && (
                  <>
                    <dt>acknowledged</dt>
                    <dd>
                      {time(i.acknowledged_at)} by {i.acknowledged_by}
                    </dd>
                  </>
                )}
                {i.resolved_at && (
                  <>
                    <dt>resolved</dt>
                    <dd>
                      {time(i.resolved_at)} by {i.resolved_by}
                    </dd>
                  </>
                )}
              </dl>
              {i.status !== 'resolved' && (
                <div className="actions">
                  {i.status === 'open' && (
                    <button type="button" className="primary" disabled={busy} onClick={() => act('ack')}>
                      Acknowledge
                    </button>
                  )}
                  <input aria-label="Resolution note" placeholder="note (optional)" value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} />
                  <button type="button" disabled={busy} onClick={() => act('resolve')}>
                    Resolve
                  </button>
                </div>
              )}
              {actionError && (
                <p className="state error" role="alert">
                  {actionError}
                </p>
              )}
              <h3>Context</h3>
              <Json value={i.context} />
              <h3>Occurrences ({count(d.occurrences.length)})</h3>
              {d.occurrences.length === 0 ? (
                <Empty>None recorded.</Empty>
              ) : (
                <div className="scroll">
                  <table>
                    <thead>
                      <tr>
                        <th>At</th>
                        <th>Level</th>
                        <th>Reasons</th>
                        <th>Source</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.occurrences.map((o) => (
                        <tr key={o.id}>
                          <td className="nowrap">{time(o.at)}</td>
                          <td>
                            <Level level={o.level} />
                          </td>
                          <td>{o.reasons.map((r) => (typeof r === 'string' ? r : `${r.code}: ${r.detail}`)).join('; ')}</td>
                          <td>{o.source}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
              <h3>Notifications</h3>
              {d.notifications.length === 0 ? (
                <Empty>No notification decision yet.</Empty>
              ) : (
                <ul className="plain">
                  {d.notifications.map((n) => (
                    <li key={n.id}>
                      {time(n.at)} · {n.reason} · <Level level={n.level} /> → {n.channels.join(', ') || 'no channel'}
                      {n.silenced_by.length > 0 && <span className="muted"> (silenced by {n.silenced_by.join(', ')})</span>}
                    </li>
                  ))}
                </ul>
              )}
            </>
          );
        }}
      </Load>
      <h3>Deliveries and attempts</h3>
      <Load state={deliveries} empty={(l) => l.length === 0} emptyText="No delivery for this intervention.">
        {(l) => <DeliveryAttempts list={l} />}
      </Load>
    </aside>
  );
}

export function DeliveryAttempts({ list }: { list: Delivery[] }) {
  return (
    <ul className="deliveries">
      {list.map((d) => (
        <li key={d.id}>
          <div>
            <strong>{d.channel}</strong> → {d.target} <span className="muted">({d.target_masked})</span> <Status status={d.status} />
          </div>
          {(d.attempts ?? []).length === 0 ? (
            <p className="muted">No attempt yet.</p>
          ) : (
            <ol className="attempts">
              {(d.attempts ?? []).map((a) => (
                <li key={a.attempt}>
                  #{a.attempt} {time(a.started_at)} · {a.outcome} {a.provider_status ? `(${a.provider_status})` : ''} · {ms(a.duration_ms)}
                  {a.error && <div className="error-text">{a.error}</div>}
                </li>
              ))}
            </ol>
          )}
        </li>
      ))}
    </ul>
  );
}
