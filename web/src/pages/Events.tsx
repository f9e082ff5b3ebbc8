/**
 * The audit explorer: every filter of `GET /v1/events`, pages along the cursor, a detail panel
 * with the full JSONB, export of the current filter, and a live tail (the WebSocket stream, with
 * polling on `head_cursor` as the fallback and safety net).
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, apiText, errorText, type Query } from '../api';
import { time } from '../format';
import { useAsync } from '../hooks';
import { stream, useStream, type EventFilter } from '../stream';
import type { EventPage, StoredEvent } from '../types';
import { Empty, ErrorBox, Json, Level, Loading } from '../ui';

const EVENT_TYPES = [
  'task_created', 'task_updated', 'task_completed', 'task_failed', 'content_generated', 'model_called',
  'api_call', 'permission_denied', 'error', 'agent_executed', 'database_query', 'cache_operation',
];
const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];
const TEXT_FILTERS = ['task_id', 'user_id', 'agent_name', 'model_name', 'status', 'q'] as const;
const PAGE_SIZE = 100;
/** Live tail: at most this many rows are kept on screen. */
const LIVE_MAX_ROWS = 500;
const POLL_DOWN_MS = 2_000;
const POLL_UP_MS = 10_000;

type Filters = Record<'event_type' | 'level' | 'since' | 'until' | 'order' | (typeof TEXT_FILTERS)[number], string>;
const NO_FILTERS: Filters = { event_type: '', level: '', since: '', until: '', order: 'desc', task_id: '', user_id: '', agent_name: '', model_name: '', status: '', q: '' };

/** datetime-local (the browser's zone) → ISO 8601 with a zone. */
const toIso = (local: string): string | undefined => (local === '' ? undefined : new Date(local).toISOString());

function toQuery(f: Filters): Query {
  return {
    event_type: f.event_type.split(',').map((s) => s.trim()).filter(Boolean),
    level: f.level,
    since: toIso(f.since),
    until: toIso(f.until),
    task_id: f.task_id,
    user_id: f.user_id,
    agent_name: f.agent_name,
    model_name: f.model_name,
    status: f.status,
    q: f.q,
  };
}

const LEVEL_RANK: Record<string, number> = { DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3, CRITICAL: 4 };

/** The server's filters, applied to an event that came over the stream. */
export function matches(e: StoredEvent, f: Filters): boolean {
  const m = e.log_metadata;
  const s = (k: string) => (typeof m[k] === 'string' ? (m[k] as string) : undefined);
  const types = f.event_type.split(',').map((t) => t.trim()).filter(Boolean);
  if (types.length > 0 && !types.includes(m.event_type)) return false;
  if (f.level && (LEVEL_RANK[e.level] ?? 0) < (LEVEL_RANK[f.level] ?? 0)) return false;
  const t = new Date(e.timestamp).getTime();
  if (f.since && t < new Date(f.since).getTime()) return false;
  if (f.until && t >= new Date(f.until).getTime()) return false;
  if (f.task_id && s('task_id') !== f.task_id) return false;
  if (f.user_id && ![s('created_by'), s('updated_by'), s('user_id')].includes(f.user_id)) return false;
  if (f.agent_name && s('agent_name') !== f.agent_name) return false;
  if (f.model_name && s('model_name') !== f.model_name && s('model_used') !== f.model_name) return false;
  if (f.status && s('status') !== f.status) return false;
  if (f.q && !e.message.toLowerCase().includes(f.q.toLowerCase())) return false;
  return true;
}

/** Filters given in the hash (`#/events?task_id=…`, links from other pages). */
function initialFilters(): Filters {
  const q = new URLSearchParams(window.location.hash.split('?')[1] ?? '');
  const f = { ...NO_FILTERS };
  for (const k of Object.keys(f) as (keyof Filters)[]) {
    const v = q.get(k);
    if (v !== null && k !== 'since' && k !== 'until') f[k] = v;
  }
  return f;
}

export function Events() {
  const [draft, setDraft] = useState<Filters>(initialFilters);
  const [filters, setFilters] = useState<Filters>(initialFilters);
  const [rows, setRows] = useState<StoredEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [selected, setSelected] = useState<StoredEvent | null>(null);
  const [live, setLive] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(undefined);
  const head = useRef<string | null>(null);
  const panel = useRef<HTMLElement>(null);
  useEffect(() => {
    // On a phone the detail is below the list: bring it into view.
    if (selected && window.innerWidth <= 760) panel.current?.scrollIntoView({ block: 'start' });
  }, [selected]);
  const seen = useRef(new Set<string>());

  const first = useAsync(
    (signal) => api<EventPage>('/v1/events', { query: { ...toQuery(filters), order: filters.order, limit: PAGE_SIZE }, signal }),
    [filters],
  );
  useEffect(() => {
    if (!first.data) return;
    setRows(first.data.events);
    setNext(first.data.next_cursor);
    seen.current = new Set(first.data.events.map((e) => e.id));
    head.current = filters.order === 'desc' ? first.data.head_cursor : null;
  }, [first.data, filters.order]);

  const addNew = useCallback(
    (events: StoredEvent[]) => {
      const fresh = events.filter((e) => !seen.current.has(e.id) && matches(e, filters));
      if (fresh.length === 0) return;
      for (const e of fresh) seen.current.add(e.id);
      // Newest first, like the list.
      const ordered = [...fresh].sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0));
      setRows((r) => [...ordered, ...r].slice(0, LIVE_MAX_ROWS));
    },
    [filters],
  );

  const streamState = useStream(
    ['events'],
    (m) => {
      if (m.type !== 'event') return;
      const d = m.data as { id?: string; timestamp?: string; level?: string; message?: string; event_type?: string; metadata?: Record<string, unknown> } | undefined;
      if (!d || typeof d.id !== 'string' || typeof d.event_type !== 'string') return;
      addNew([
        { id: d.id, timestamp: d.timestamp ?? '', level: d.level ?? 'INFO', message: d.message ?? '', log_metadata: { ...(d.metadata ?? {}), event_type: d.event_type } },
      ]);
    },
    live,
  );

  // The server narrows the stream to what it can filter on; the rest is matched here.
  useEffect(() => {
    if (!live) return;
    const types = filters.event_type.split(',').map((t) => t.trim()).filter(Boolean);
    const f: EventFilter = {};
    if (types.length > 0) f.event_type = types;
    if (filters.level) f.level = LEVELS.filter((l) => (LEVEL_RANK[l] ?? 0) >= (LEVEL_RANK[filters.level] ?? 0));
    if (filters.task_id) f.task_id = [filters.task_id];
    if (filters.agent_name) f.agent_name = [filters.agent_name];
    stream.setEventFilter(f);
    return () => stream.setEventFilter({});
  }, [live, filters]);

  // Polling on head_cursor: the fallback while the stream is down, a slow safety net while it is up.
  useEffect(() => {
    if (!live) return;
    let stopped = false;
    let busy = false;
    const poll = async () => {
      if (busy || stopped) return;
      busy = true;
      try {
        const q = toQuery(filters);
        // Without a head (nothing matched yet), ask for the last minute; the seen set drops repeats.
        const since = head.current === null ? (q.since ?? new Date(Date.now() - 60_000).toISOString()) : q.since;
        const page = await api<EventPage>('/v1/events', { query: { ...q, since, order: 'asc', limit: 1000, cursor: head.current ?? undefined } });
        if (stopped) return;
        if (page.head_cursor) head.current = page.head_cursor;
        addNew(page.events);
      } catch {
        /* shown by the stream state; the next poll tries again */
      } finally {
        busy = false;
      }
    };
    void poll();
    const t = setInterval(poll, streamState === 'open' ? POLL_UP_MS : POLL_DOWN_MS);
    return () => {
      stopped = true;
      clearInterval(t);
    };
  }, [live, filters, addNew, streamState]);

  async function more() {
    if (!next) return;
    setMoreError(undefined);
    try {
      const page = await api<EventPage>('/v1/events', { query: { ...toQuery(filters), order: filters.order, limit: PAGE_SIZE, cursor: next } });
      for (const e of page.events) seen.current.add(e.id);
      setRows((r) => [...r, ...page.events]);
      setNext(page.next_cursor);
    } catch (err) {
      setMoreError(err);
    }
  }

  function apply(e: FormEvent) {
    e.preventDefault();
    setSelected(null);
    setFilters({ ...draft });
  }

  return (
    <div className="explorer">
      <details className="filters-box" open={window.innerWidth > 760}>
        <summary>Filters</summary>
      <form className="filters card" onSubmit={apply} aria-label="Filters">
        <label>
          Event types
          <input list="event-types" value={draft.event_type} onChange={(e) => setDraft({ ...draft, event_type: e.target.value })} placeholder="e.g. task_failed,error" />
          <datalist id="event-types">
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          Minimum level
          <select value={draft.level} onChange={(e) => setDraft({ ...draft, level: e.target.value })}>
            <option value="">any</option>
            {LEVELS.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </label>
        <label>
          Since
          <input type="datetime-local" step={1} value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })} />
        </label>
        <label>
          Until
          <input type="datetime-local" step={1} value={draft.until} onChange={(e) => setDraft({ ...draft, until: e.target.value })} />
        </label>
        {TEXT_FILTERS.map((k) => (
          <label key={k}>
            {k === 'q' ? 'Message contains' : k}
            <input name={k} value={draft[k]} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
          </label>
        ))}
        <label>
          Order
          <select value={draft.order} onChange={(e) => setDraft({ ...draft, order: e.target.value })}>
            <option value="desc">newest first</option>
            <option value="asc">oldest first</option>
          </select>
        </label>
        <div className="actions">
          <button type="submit" className="primary">
            Apply
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(NO_FILTERS);
              setFilters(NO_FILTERS);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      </details>

      <div className="toolbar">
        <label className="toggle">
          <input type="checkbox" checked={live} disabled={filters.order !== 'desc'} onChange={(e) => setLive(e.target.checked)} /> Live tail
        </label>
        {live && (
          <span className={`live-state ${streamState}`} data-testid="live-state">
            {streamState === 'open' ? 'streaming' : `polling every ${POLL_DOWN_MS / 1000} s`}
          </span>
        )}
        <Export query={toQuery(filters)} order={filters.order} />
      </div>

      <div className="split">
        <div className="list">
          {first.data === undefined && first.error === undefined && <Loading what="Loading events" />}
          {first.error !== undefined && <ErrorBox error={first.error} retry={first.reload} />}
          {first.data !== undefined && rows.length === 0 && <Empty>No event matches these filters{live ? ' yet; new ones appear here' : ''}.</Empty>}
          {rows.length > 0 && (
            <table className="events" data-testid="events-table">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Level</th>
                  <th>Type</th>
                  <th>Message</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e) => (
                  <tr key={e.id} className={selected?.id === e.id ? 'selected' : undefined} onClick={() => setSelected(e)} tabIndex={0} onKeyDown={(k) => k.key === 'Enter' && setSelected(e)}>
                    <td className="nowrap">{time(e.timestamp)}</td>
                    <td>
                      <Level level={e.level} />
                    </td>
                    <td className="nowrap">{e.log_metadata.event_type}</td>
                    <td className="message">{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {moreError !== undefined && <ErrorBox error={moreError} retry={more} />}
          {next && !live && (
            <button type="button" onClick={more}>
              Load more
            </button>
          )}
        </div>
        {selected && (
          <aside className="detail card" aria-label="Event detail" ref={panel}>
            <div className="detail-head">
              <h2>Event</h2>
              <button type="button" className="link" onClick={() => setSelected(null)}>
                Close
              </button>
            </div>
            <dl>
              <dt>id</dt>
              <dd className="mono">{selected.id}</dd>
              <dt>time</dt>
              <dd>{time(selected.timestamp)}</dd>
              <dt>level</dt>
              <dd>
                <Level level={selected.level} />
              </dd>
              <dt>message</dt>
              <dd>{selected.message}</dd>
            </dl>
            <h3>log_metadata</h3>
            <Json value={selected.log_metadata} />
          </aside>
        )}
      </div>
    </div>
  );
}

/** Export of the current filter: fetched with the token in a header, saved as a file. */
function Export({ query, order }: { query: Query; order: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function run(format: 'ndjson' | 'csv') {
    setBusy(true);
    setError(null);
    try {
      const text = await apiText('/v1/events/export', { query: { ...query, order, format } });
      const url = URL.createObjectURL(new Blob([text], { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `vigil-events.${format}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <span className="export">
      Export:{' '}
      <button type="button" disabled={busy} onClick={() => run('ndjson')}>
        NDJSON
      </button>{' '}
      <button type="button" disabled={busy} onClick={() => run('csv')}>
        CSV
      </button>
      {error && (
        <span className="state error inline" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
