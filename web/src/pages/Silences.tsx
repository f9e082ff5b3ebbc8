/** Silences: those in force or pending, a form to add one, and expiring one now. */
import { useState, type FormEvent } from 'react';
import { api, errorText } from '../api';
import { time } from '../format';
import { useAsync } from '../hooks';
import type { Silence } from '../types';
import { Card, Load } from '../ui';

const OPS = ['eq', 'ne', 'in', 'regex', 'gte', 'lte', 'exists'];

/** A matcher's value from the form: JSON when it parses (numbers, lists), else the text. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function Silences() {
  const list = useAsync((signal) => api<{ silences: Silence[] }>('/v1/silences', { signal }), [], 30_000);
  const [field, setField] = useState('level');
  const [op, setOp] = useState('eq');
  const [value, setValue] = useState('');
  const [duration, setDuration] = useState('2h');
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function add(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/v1/silences', { method: 'POST', body: { matchers: [op === 'exists' ? { field, op } : { field, op, value: parseValue(value) }], duration, comment } });
      setValue('');
      setComment('');
      list.reload();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  async function expire(id: string) {
    setError(null);
    try {
      await api(`/v1/silences/${encodeURIComponent(id)}`, { method: 'DELETE' });
      list.reload();
    } catch (err) {
      setError(errorText(err));
    }
  }
  return (
    <Card title="Silences" className="silences">
      <p className="muted">A silenced intervention is recorded but not sent.</p>
      <Load state={list} empty={(l) => l.silences.length === 0} emptyText="No silence in force or pending.">
        {(l) => (
          <div className="scroll">
            <table>
              <thead>
                <tr>
                  <th>Matchers</th>
                  <th>From</th>
                  <th>Until</th>
                  <th>By</th>
                  <th>Comment</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {l.silences.map((s) => (
                  <tr key={s.id}>
                    <td className="mono">{s.matchers.map((m) => `${m.field} ${m.op ?? 'eq'} ${m.value === undefined ? '' : JSON.stringify(m.value)}`).join(' and ')}</td>
                    <td className="nowrap">{time(s.starts_at)}</td>
                    <td className="nowrap">{time(s.ends_at)}</td>
                    <td>{s.created_by}</td>
                    <td>{s.comment}</td>
                    <td>
                      <button type="button" onClick={() => expire(s.id)}>
                        Expire
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Load>
      <form className="inline-form" onSubmit={add} aria-label="Add a silence">
        <label>
          Field
          <input value={field} onChange={(e) => setField(e.target.value)} required placeholder="level, reasons, task_id, context.…" />
        </label>
        <label>
          Op
          <select value={op} onChange={(e) => setOp(e.target.value)}>
            {OPS.map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        </label>
        <label>
          Value
          <input value={value} onChange={(e) => setValue(e.target.value)} disabled={op === 'exists'} placeholder="WARNING" />
        </label>
        <label>
          For
          <input value={duration} onChange={(e) => setDuration(e.target.value)} required placeholder="30m, 2h, 1d" />
        </label>
        <label>
          Comment
          <input value={comment} onChange={(e) => setComment(e.target.value)} maxLength={2000} />
        </label>
        <button type="submit" disabled={busy}>
          Add silence
        </button>
      </form>
      {error && (
        <p className="state error" role="alert">
          {error}
        </p>
      )}
    </Card>
  );
}
