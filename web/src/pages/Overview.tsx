/** Overview: events per minute, spend against the budget, open interventions, delivery health. */
import type { ChartConfiguration } from 'chart.js';
import { useMemo } from 'react';
import { api } from '../api';
import { ChartView } from '../chart';
import { budget, eventsSince, EVENTS_PER_MINUTE_CAP, listDeliveries, listInterventions } from '../data';
import { count, money, pct, startOfUtcDay, startOfUtcMonth } from '../format';
import { useAsync } from '../hooks';
import type { CostsStats, Delivery, Intervention, StoredEvent } from '../types';
import { INTERVENTION_LEVELS } from '../types';
import { Card, Level, Load, Stat } from '../ui';

const REFRESH_MS = 15_000;
const MINUTES = 60;

export function Overview() {
  return (
    <div className="grid">
      <EventsPerMinute />
      <Spend />
      <OpenInterventions />
      <DeliveryHealth />
    </div>
  );
}

function EventsPerMinute() {
  const state = useAsync((signal) => eventsSince(new Date(Date.now() - MINUTES * 60_000), EVENTS_PER_MINUTE_CAP, signal), [], REFRESH_MS);
  return (
    <Card title="Events per minute (last hour)" className="wide">
      <Load state={state}>{(d) => <PerMinuteChart events={d.events} capped={d.capped} />}</Load>
    </Card>
  );
}

function PerMinuteChart({ events, capped }: { events: StoredEvent[]; capped: boolean }) {
  const config = useMemo((): ChartConfiguration<'bar'> => {
    const now = Math.floor(Date.now() / 60_000);
    const counts: (number | null)[] = new Array<number>(MINUTES).fill(0);
    const index = (iso: string) => MINUTES - 1 - (now - Math.floor(new Date(iso).getTime() / 60_000));
    for (const e of events) {
      const i = index(e.timestamp);
      if (i >= 0 && i < MINUTES) counts[i] = (counts[i] ?? 0) + 1;
    }
    // Capped: minutes older than the oldest event read (and that one, partly read) are unknown, not zero.
    if (capped && events.length > 0) for (let i = 0; i <= Math.min(index(events[events.length - 1].timestamp), MINUTES - 1); i++) counts[i] = null;
    const labels = counts.map((_, i) => new Date((now - (MINUTES - 1 - i)) * 60_000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }));
    return {
      type: 'bar',
      data: { labels, datasets: [{ label: 'events', data: counts, backgroundColor: '#2563eb' }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 8 } } } },
    };
  }, [events, capped]);
  return (
    <>
      <p className="muted">
        {capped ? `More than ${count(events.length)} events in the last hour; the chart shows the minutes those cover.` : `${count(events.length)} events in the last hour.`}
      </p>
      <ChartView config={config} label="Events per minute over the last hour" height={200} />
    </>
  );
}

function Spend() {
  const state = useAsync(
    async (signal) => {
      const [today, month, b] = await Promise.all([
        api<CostsStats>('/v1/stats/costs', { query: { since: startOfUtcDay().toISOString() }, signal }),
        api<CostsStats>('/v1/stats/costs', { query: { since: startOfUtcMonth().toISOString() }, signal }),
        budget(signal),
      ]);
      return { today, month, budget: b };
    },
    [],
    REFRESH_MS,
  );
  return (
    <Card title="Spend">
      <Load state={state}>
        {({ today, month, budget: b }) => {
          const used = month.total.cost_usd / b.usd;
          return (
            <>
              <div className="stats">
                <Stat label="Today (UTC)" value={money(today.total.cost_usd)} sub={`${count(today.total.calls)} calls · ${count(today.total.tokens)} tokens`} />
                <Stat label="This month" value={money(month.total.cost_usd)} sub={`${pct(used)} of ${money(b.usd)}${b.fromServer ? '' : ' (default budget)'}`} tone={used >= 1 ? 'bad' : used >= 0.8 ? 'warn' : 'ok'} />
              </div>
              <div className="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(used * 100)} aria-label="Budget used this month">
                <div className={used >= 1 ? 'bad' : used >= 0.8 ? 'warn' : 'ok'} style={{ width: `${Math.min(used, 1) * 100}%` }} />
              </div>
            </>
          );
        }}
      </Load>
    </Card>
  );
}

function OpenInterventions() {
  const state = useAsync((signal) => listInterventions({ status: 'open', limit: 200 }, signal), [], REFRESH_MS);
  return (
    <Card title="Open interventions">
      <Load state={state}>
        {(list) => <ByLevel list={list} />}
      </Load>
      <a href="#/interventions">All interventions →</a>
    </Card>
  );
}

function ByLevel({ list }: { list: Intervention[] }) {
  return (
    <ul className="levels">
      {INTERVENTION_LEVELS.map((level) => (
        <li key={level}>
          <Level level={level} /> <strong>{count(list.filter((i) => i.level === level).length)}</strong>
        </li>
      ))}
    </ul>
  );
}

function DeliveryHealth() {
  const state = useAsync((signal) => listDeliveries({ limit: 500 }, signal), [], REFRESH_MS);
  return (
    <Card title="Delivery health (latest 500)">
      <Load state={state} empty={(d) => d.length === 0} emptyText="No notification has been sent yet.">
        {(list) => <HealthTable list={list} />}
      </Load>
    </Card>
  );
}

function HealthTable({ list }: { list: Delivery[] }) {
  const rows = new Map<string, { sent: number; waiting: number; dead: number }>();
  for (const d of list) {
    const r = rows.get(d.channel) ?? { sent: 0, waiting: 0, dead: 0 };
    if (d.status === 'sent') r.sent++;
    else if (d.status === 'dead') r.dead++;
    else r.waiting++;
    rows.set(d.channel, r);
  }
  return (
    <table>
      <thead>
        <tr>
          <th>Channel</th>
          <th className="num">Sent</th>
          <th className="num">Waiting</th>
          <th className="num">Dead</th>
        </tr>
      </thead>
      <tbody>
        {[...rows].sort(([a], [b]) => a.localeCompare(b)).map(([channel, r]) => (
          <tr key={channel} className={r.dead > 0 ? 'row-bad' : undefined}>
            <td>{channel}</td>
            <td className="num">{count(r.sent)}</td>
            <td className="num">{count(r.waiting)}</td>
            <td className="num">{count(r.dead)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
