/** Agents: executions, success rate and p50/p95 duration per agent; tasks that fail. */
import type { ChartConfiguration } from 'chart.js';
import { useMemo, useState } from 'react';
import { api } from '../api';
import { ChartView } from '../chart';
import { count, ms, pct, time } from '../format';
import { useAsync } from '../hooks';
import type { AgentsStats, EventPage, StoredEvent, TasksStats } from '../types';
import { Card, Load, Stat } from '../ui';

const RANGES = [
  { id: '1h', label: 'Last hour', ms: 3_600_000 },
  { id: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { id: 'all', label: 'All time', ms: 0 },
];
const FAILED_EVENTS = 200;

export function Agents() {
  const [rangeId, setRangeId] = useState('24h');
  const range = RANGES.find((r) => r.id === rangeId) ?? RANGES[1];
  const since = () => (range.ms === 0 ? undefined : new Date(Date.now() - range.ms).toISOString());
  const agents = useAsync((signal) => api<AgentsStats>('/v1/stats/agents', { query: { since: since() }, signal }), [range.id], 30_000);
  const tasks = useAsync((signal) => api<TasksStats>('/v1/stats/tasks', { query: { since: since() }, signal }), [range.id], 30_000);
  const failed = useAsync(
    (signal) => api<EventPage>('/v1/events', { query: { event_type: ['task_failed'], since: since(), limit: FAILED_EVENTS }, signal }),
    [range.id],
    30_000,
  );
  return (
    <>
      <div className="toolbar">
        <label>
          Range{' '}
          <select value={rangeId} onChange={(e) => setRangeId(e.target.value)}>
            {RANGES.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="grid">
        <Card title="Agents" className="wide">
          <Load state={agents} empty={(a) => a.agents.length === 0} emptyText="No agent execution in this range (agent_executed events).">
            {(a) => <AgentTable stats={a} />}
          </Load>
        </Card>
        <Card title="Tasks">
          <Load state={tasks}>
            {(t) => (
              <div className="stats">
                <Stat label="Created" value={count(t.created)} />
                <Stat label="Completed" value={count(t.completed)} />
                <Stat label="Failed" value={count(t.failed)} tone={t.failed > 0 ? 'bad' : 'ok'} />
                <Stat label="Success rate" value={pct(t.success_rate)} sub={`p50 ${ms(t.completion_time.p50_ms)} · p95 ${ms(t.completion_time.p95_ms)}`} />
              </div>
            )}
          </Load>
        </Card>
        <Card title="Failing tasks">
          <Load state={failed} empty={(p) => p.events.length === 0} emptyText="No task failed in this range.">
            {(p) => <FailingTasks events={p.events} />}
          </Load>
        </Card>
      </div>
    </>
  );
}

function AgentTable({ stats }: { stats: AgentsStats }) {
  const config = useMemo(
    (): ChartConfiguration<'bar'> => ({
      type: 'bar',
      data: {
        labels: stats.agents.map((a) => a.agent_name),
        datasets: [
          { label: 'successes', data: stats.agents.map((a) => a.successes), backgroundColor: '#16a34a' },
          { label: 'other outcomes', data: stats.agents.map((a) => a.executions - a.successes), backgroundColor: '#dc2626' },
        ],
      },
      options: { plugins: { legend: { position: 'bottom' } }, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    }),
    [stats],
  );
  return (
    <>
      <ChartView config={config} label="Executions per agent, successes and other outcomes" height={220} />
      <div className="scroll">
        <table>
          <thead>
            <tr>
              <th>Agent</th>
              <th className="num">Executions</th>
              <th className="num">Success rate</th>
              <th className="num">p50</th>
              <th className="num">p95</th>
            </tr>
          </thead>
          <tbody>
            {stats.agents.map((a) => (
              <tr key={a.agent_name} className={a.success_rate < 0.8 ? 'row-bad' : undefined}>
                <td>{a.agent_name}</td>
                <td className="num">{count(a.executions)}</td>
                <td className="num">{pct(a.success_rate)}</td>
                <td className="num">{ms(a.execution_time.p50_ms)}</td>
                <td className="num">{ms(a.execution_time.p95_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted">Percentiles are within {pct(stats.percentile_error_bound)} of the exact value.</p>
    </>
  );
}

function FailingTasks({ events }: { events: StoredEvent[] }) {
  const byTask = new Map<string, { failures: number; last: StoredEvent }>();
  for (const e of events) {
    const id = String(e.log_metadata.task_id ?? '?');
    const t = byTask.get(id);
    if (t) t.failures++;
    else byTask.set(id, { failures: 1, last: e });
  }
  const rows = [...byTask].sort((a, b) => b[1].failures - a[1].failures).slice(0, 20);
  return (
    <div className="scroll">
      <table>
        <thead>
          <tr>
            <th>Task</th>
            <th className="num">Failures</th>
            <th>Last error</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([id, t]) => (
            <tr key={id}>
              <td>
                <a href={`#/events?task_id=${encodeURIComponent(id)}`}>{id}</a>
              </td>
              <td className="num">{count(t.failures)}</td>
              <td className="message" title={time(t.last.timestamp)}>
                {String(t.last.log_metadata.error_type ?? '')} {String(t.last.log_metadata.error_message ?? t.last.message)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {events.length >= FAILED_EVENTS && <p className="muted">From the latest {FAILED_EVENTS} failures.</p>}
    </div>
  );
}
