/**
 * Costs: spend and tokens by model and provider over time (one `/v1/stats/costs` call per time
 * bucket: the statistics are exact for any range and fast on their hourly rollups), the totals,
 * and cost per task type (from the task_type model calls name).
 */
import type { ChartConfiguration } from 'chart.js';
import { useMemo, useState } from 'react';
import { api } from '../api';
import { ChartView, PALETTE } from '../chart';
import { count, money } from '../format';
import { useAsync } from '../hooks';
import type { CostsStats } from '../types';
import { Card, Load } from '../ui';

interface Range {
  id: string;
  label: string;
  buckets: number;
  bucketMs: number;
}

const RANGES: Range[] = [
  { id: '24h', label: 'Last 24 hours (hourly)', buckets: 24, bucketMs: 3_600_000 },
  { id: '7d', label: 'Last 7 days (daily)', buckets: 7, bucketMs: 86_400_000 },
  { id: '30d', label: 'Last 30 days (daily)', buckets: 30, bucketMs: 86_400_000 },
];
/** Statistics requests in flight at once. */
const PARALLEL = 6;

interface Series {
  labels: string[];
  buckets: CostsStats[];
  total: CostsStats;
}

async function load(range: Range, signal: AbortSignal): Promise<Series> {
  const end = Math.ceil(Date.now() / range.bucketMs) * range.bucketMs;
  const starts = Array.from({ length: range.buckets }, (_, i) => end - (range.buckets - i) * range.bucketMs);
  const buckets: CostsStats[] = new Array(starts.length);
  for (let i = 0; i < starts.length; i += PARALLEL) {
    await Promise.all(
      starts.slice(i, i + PARALLEL).map(async (s, j) => {
        buckets[i + j] = await api<CostsStats>('/v1/stats/costs', { query: { since: new Date(s).toISOString(), until: new Date(s + range.bucketMs).toISOString() }, signal });
      }),
    );
  }
  const total = await api<CostsStats>('/v1/stats/costs', { query: { since: new Date(starts[0]).toISOString() }, signal });
  const labels = starts.map((s) =>
    range.bucketMs < 86_400_000 ? new Date(s).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : new Date(s).toLocaleDateString(undefined, { month: 'short', day: 'numeric' }),
  );
  return { labels, buckets, total };
}

function stacked(series: Series, names: string[], pick: (b: CostsStats, name: string) => number, title: string): ChartConfiguration<'bar'> {
  return {
    type: 'bar',
    data: { labels: series.labels, datasets: names.map((n, i) => ({ label: n, data: series.buckets.map((b) => pick(b, n)), backgroundColor: PALETTE[i % PALETTE.length] })) },
    options: {
      plugins: { legend: { position: 'bottom' }, tooltip: { mode: 'index', intersect: false } },
      scales: { x: { stacked: true, ticks: { maxTicksLimit: 12 } }, y: { stacked: true, beginAtZero: true, title: { display: true, text: title } } },
    },
  };
}

export function Costs() {
  const [rangeId, setRangeId] = useState('24h');
  const range = RANGES.find((r) => r.id === rangeId) ?? RANGES[0];
  const state = useAsync((signal) => load(range, signal), [range.id], 60_000);
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
      <Load state={state} empty={(s) => s.total.total.calls === 0} emptyText="No model call in this range: costs come from model_called events.">
        {(s) => <CostCharts series={s} />}
      </Load>
    </>
  );
}

function CostCharts({ series }: { series: Series }) {
  const spendByModel = useMemo(() => {
    const models = series.total.by_model.map((m) => m.model_name).slice(0, 10);
    return stacked(series, models, (b, n) => b.by_model.find((m) => m.model_name === n)?.cost_usd ?? 0, 'USD');
  }, [series]);
  const tokensByProvider = useMemo(() => {
    const providers = series.total.by_provider.map((p) => p.provider).slice(0, 10);
    return stacked(series, providers, (b, n) => b.by_provider.find((p) => p.provider === n)?.tokens ?? 0, 'tokens');
  }, [series]);
  const t = series.total.total;
  return (
    <div className="grid">
      <Card title="Spend by model" className="wide">
        <p className="muted">
          {money(t.cost_usd)} · {count(t.calls)} calls · {count(t.tokens)} tokens in this range.
        </p>
        <ChartView config={spendByModel} label="Spend by model over time" />
      </Card>
      <Card title="Tokens by provider" className="wide">
        <ChartView config={tokensByProvider} label="Tokens by provider over time" />
      </Card>
      <Card title="By model">
        <Totals rows={series.total.by_model.map((m) => ({ name: m.model_name, ...m }))} />
      </Card>
      <Card title="By provider">
        <Totals rows={series.total.by_provider.map((p) => ({ name: p.provider, ...p }))} />
      </Card>
      <CostPerTaskType rows={series.total.by_task_type} />
    </div>
  );
}

function Totals({ rows }: { rows: { name: string; calls: number; tokens: number; cost_usd: number }[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th>Name</th>
          <th className="num">Calls</th>
          <th className="num">Tokens</th>
          <th className="num">Cost</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.name}>
            <td>{r.name}</td>
            <td className="num">{count(r.calls)}</td>
            <td className="num">{count(r.tokens)}</td>
            <td className="num">{money(r.cost_usd)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Spend by the task type model calls name (`model_called.task_type`); calls that name none are grouped. */
function CostPerTaskType({ rows }: { rows: CostsStats['by_task_type'] }) {
  return (
    <Card title="Cost per task type" className="wide">
      {rows.length === 0 || (rows.length === 1 && rows[0].task_type === '') ? (
        <p className="state empty">
          No model call in this range named its task type: send <code>task_type</code> (and <code>task_id</code>) with <code>model_called</code> events.
        </p>
      ) : (
        <Totals rows={rows.map((r) => ({ ...r, name: r.task_type === '' ? '(no task type)' : r.task_type }))} />
      )}
    </Card>
  );
}
