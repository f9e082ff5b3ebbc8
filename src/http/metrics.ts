/**
 * A minimal Prometheus registry: counters, gauges read at scrape time, and histograms, rendered
 * in the text exposition format (version 0.0.4). Label values are escaped; label sets are kept
 * small by the callers (event types outside the catalogue are counted as "custom").
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${labels[k].replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`).join(',') + '}';
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, n = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + n);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [k, v] of this.values) out += `${this.name}${k} ${v}\n`;
    return out;
  }
}

export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${this.read()}\n`;
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => {
        out += `${this.name}_bucket${labelKey({ ...s.labels, le: String(b) })} ${s.counts[i]}\n`;
      });
      out += `${this.name}_bucket${labelKey({ ...s.labels, le: '+Inf' })} ${s.count}\n`;
      out += `${this.name}_sum${labelKey(s.labels)} ${s.sum}\n${this.name}_count${labelKey(s.labels)} ${s.count}\n`;
    }
    return out;
  }
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZES = [1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 20000];

export class Registry {
  private readonly metrics: Metric[] = [];
  register<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  /** A gauge read at scrape time (spool depth, pending rows, ...). */
  gauge(name: string, help: string, read: () => number): Gauge {
    return this.register(new Gauge(name, help, read));
  }
  render(): string {
    return this.metrics.map((m) => m.render()).join('');
  }
}

/** The server's metrics. Other components add theirs with `registry.gauge` / `registry.register`. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly eventsAccepted = this.registry.register(new Counter('vigil_events_accepted_total', 'Events committed by POST /v1/events, by event type.'));
  readonly eventsRefused = this.registry.register(
    new Counter('vigil_events_refused_total', 'Events refused by POST /v1/events, by event type and reason (invalid, database, unavailable).'),
  );
  readonly requestEvents = this.registry.register(new Histogram('vigil_ingest_request_events', 'Events per ingest request.', SIZES));
  readonly commitRows = this.registry.register(new Histogram('vigil_commit_rows', 'Rows per group commit.', SIZES));
  readonly commitSeconds = this.registry.register(new Histogram('vigil_commit_duration_seconds', 'Duration of group commits, by outcome.', SECONDS));
  readonly httpSeconds = this.registry.register(
    new Histogram('vigil_http_request_duration_seconds', 'HTTP request latency, by method, route and status code.', SECONDS),
  );
}
