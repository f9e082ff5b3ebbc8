/**
 * What every statistic shares: splitting a range into whole hours (answered by the hourly rollups
 * of migrations/004_stats_rollups.sql) and partial-hour edges (answered from `logs` itself), and
 * reading the log-scale duration histograms.
 */
import type { DurationFigures, StatsRange } from './types.js';

export interface Range {
  since?: Date;
  until?: Date;
}

const HOUR_MS = 3_600_000;

/**
 * The six timestamptz parameters every statistic's SQL takes, as text PostgreSQL parses:
 * $1..$2 the whole hours [hour_from, hour_to) read from the rollups, $3..$4 and $5..$6 the two raw
 * edges [since, hour_from) and [hour_to, until) read from `logs`. An empty piece is [x, x).
 */
export type RangeParams = [string, string, string, string, string, string];

/** Beyond these, JavaScript's ISO strings (`+010000-…`, `-000001-…`) are not PostgreSQL's: open ends. */
const MIN_MS = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

function ts(ms: number): string {
  if (ms > MAX_MS) return 'infinity';
  if (ms < MIN_MS) return '-infinity';
  return new Date(ms).toISOString();
}

export function checkRange(range: Range): { lo: number; hi: number } {
  const lo = range.since === undefined ? -Infinity : range.since.getTime();
  const hi = range.until === undefined ? Infinity : range.until.getTime();
  if (Number.isNaN(lo) || Number.isNaN(hi)) throw new RangeError('since and until must be valid dates');
  return { lo, hi };
}

/** `since` inclusive, `until` exclusive. Exact: no rounding to hours. */
export function rangeParams(range: Range): RangeParams {
  const { lo, hi } = checkRange(range);
  if (hi <= lo) {
    const x = ts(Number.isFinite(lo) ? lo : 0);
    return [x, x, x, x, x, x];
  }
  const hourFrom = Number.isFinite(lo) ? Math.ceil(lo / HOUR_MS) * HOUR_MS : lo;
  const hourTo = Number.isFinite(hi) ? Math.floor(hi / HOUR_MS) * HOUR_MS : hi;
  if (hourFrom >= hourTo) {
    // No whole hour inside: everything comes from `logs`.
    return [ts(hourFrom), ts(hourFrom), ts(lo), ts(hi), ts(hi), ts(hi)];
  }
  return [ts(hourFrom), ts(hourTo), ts(lo), ts(hourFrom), ts(hourTo), ts(hi)];
}

export function echoRange(range: Range): StatsRange {
  return { since: range.since?.toISOString() ?? null, until: range.until?.toISOString() ?? null };
}

/**
 * Durations are counted in log-scale buckets, b holding [2^(b/8), 2^((b+1)/8)) ms
 * (`vigil_stats_bucket` in SQL). A percentile is reported as its bucket's geometric midpoint,
 * 2^((b+0.5)/8), so it is at most 2^(1/16) - 1 ≈ 4.43% above and 1 - 2^(-1/16) ≈ 4.24% below the
 * exact value.
 */
export const BUCKETS_PER_DOUBLING = 8;
export const PERCENTILE_ERROR_BOUND = 0.0443;
/** Bucket of events that carried no duration, and of a duration of 0 ms (reported as 0). */
export const BUCKET_NONE = -32768;
export const BUCKET_ZERO = -32767;

export function bucketMidpoint(bucket: number): number {
  if (bucket === BUCKET_ZERO) return 0;
  return 2 ** ((bucket + 0.5) / BUCKETS_PER_DOUBLING);
}

/**
 * SQL computing, per key, the nearest-rank p50 and p95 buckets of a histogram `hist(key, bucket, n)`:
 * the smallest bucket whose cumulative count reaches ceil(p * total). Appended after a WITH
 * clause that defines `hist`.
 */
export const PERCENTILES_SQL = `
  cum AS (
    SELECT key, bucket,
           sum(n) OVER (PARTITION BY key ORDER BY bucket) AS running,
           sum(n) OVER (PARTITION BY key) AS total
      FROM hist
     WHERE bucket <> ${BUCKET_NONE}
  ),
  pct AS (
    SELECT key,
           min(bucket) FILTER (WHERE running >= ceil(total * 0.50)) AS p50_bucket,
           min(bucket) FILTER (WHERE running >= ceil(total * 0.95)) AS p95_bucket
      FROM cum
     GROUP BY key
  )`;

/** Turns SQL figures (timed count, time sum, p50/p95 buckets) into DurationFigures. */
export function durations(timed: number, sumMs: number, p50Bucket: number | null, p95Bucket: number | null): DurationFigures {
  if (timed === 0) return { count: 0, avg_ms: null, p50_ms: null, p95_ms: null };
  return {
    count: timed,
    avg_ms: sumMs / timed,
    p50_ms: p50Bucket === null ? null : bucketMidpoint(p50Bucket),
    p95_ms: p95Bucket === null ? null : bucketMidpoint(p95Bucket),
  };
}

/** PGlite and node-pg return numbers, strings or bigints depending on the type; SQL casts to float8, this makes sure. */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

export function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

/** Largest first, then by name. */
export function byCountThenName<T>(count: (t: T) => number, name: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => count(b) - count(a) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);
}

/** SQL pieces shared by every statistic (constants, never input). */
export const SQL = {
  /** The whole hours of the range, on a rollup table's `hour`. */
  hours: 'hour >= $1::timestamptz AND hour < $2::timestamptz',
  /** The partial-hour edges of the range, on `logs`. */
  edges: '("timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz OR "timestamp" >= $5::timestamptz AND "timestamp" < $6::timestamptz)',
  /** A row's UTC hour, exactly as the rollup trigger computes it. */
  hourOf: `date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00')`,
} as const;
